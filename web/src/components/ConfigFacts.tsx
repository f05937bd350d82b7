import { Fragment } from "react";
import { useT } from "../i18n";
import { configFacts, fieldsFor } from "../lib/pluginTypes";
import { usePlugins, type PluginKind } from "./usePlugins";

/**
 * The `<dt>`/`<dd>` pairs of a stored configuration (to sit inside a
 * `dl.facts`); secrets read `********`. Labels come from the schema of the
 * plugin of `kind` providing `type` when it is installed; raw keys in
 * words otherwise.
 */
export function ConfigFacts({ kind, type, config }: { kind: PluginKind; type: string; config: Record<string, unknown> }) {
  const t = useT();
  const plugins = usePlugins(kind);
  const fields = fieldsFor(plugins.data ?? [], type);
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
