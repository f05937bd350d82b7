import { Fragment } from "react";
import { useT } from "../../../i18n";
import type { FieldSpec } from "../../../lib/schemaForm";
import { configFacts } from "./pluginTypes";

/** The `<dt>`/`<dd>` pairs of a stored configuration (to sit inside a `dl.facts`); secrets read `********`. */
export function ConfigFacts({ config, fields }: { config: Record<string, unknown>; fields: readonly FieldSpec[] }) {
  const t = useT();
  return (
    <>
      {configFacts(config, fields).map((f) => (
        <Fragment key={f.name}>
          <dt>{f.label}</dt>
          <dd>{typeof f.value === "boolean" ? t(f.value ? "common.yes" : "common.no") : f.value}</dd>
        </Fragment>
      ))}
    </>
  );
}
