import { useId, type ReactNode } from "react";
import "./section.css";

/** A titled panel of a detail screen: a region named by its `<h2>`, so it is a landmark screen readers can jump to. */
export function Section({ title, children }: { title: string; children: ReactNode }) {
  const headingId = useId();
  return (
    <section className="panel titled-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}
