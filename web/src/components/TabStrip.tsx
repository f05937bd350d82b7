/** A screen's sections as links (one address each), in a labelled navigation landmark. */
import { NavLink } from "react-router";

export type Tab = { to: string; label: string; end?: boolean };

export function TabStrip({ label, tabs }: { label: string; tabs: readonly Tab[] }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => (
        <NavLink key={tab.to} to={tab.to} end={tab.end}>
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}
