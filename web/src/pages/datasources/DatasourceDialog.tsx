/**
 * Add or edit a datasource in a dialog: its name, its engine type (from
 * the installed engine plugins) and that engine's settings, drawn from
 * the plugin's configuration schema. A failure the server pins on a field
 * (`connection_config.host`) shows under that field.
 */
import { useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import { PluginConfigDialog, PluginConfigForm } from "../../components/PluginConfigForm";
import { useT } from "../../i18n";
import { asConfig, fromConfig } from "../../lib/pluginTypes";
import { datasourceKey, datasourcesKey, type Datasource, type DatasourceBody } from "./api";

export function DatasourceDialog({
  open,
  datasource,
  onClose,
}: {
  open: boolean;
  /** The datasource to edit; none to add one. */
  datasource?: Datasource;
  onClose: () => void;
}) {
  const t = useT();
  const client = useQueryClient();
  return (
    <PluginConfigDialog kind="engine" title={t(datasource ? "datasources.editTitle" : "datasources.addTitle")} open={open} onClose={onClose}>
      {(plugins) => (
        <PluginConfigForm
          plugins={plugins}
          stored={datasource && { name: datasource.name, type: datasource.type, config: fromConfig(datasource.connection_config) }}
          configField="connection_config"
          labels={{
            name: t("datasources.name"),
            type: t("datasources.type"),
            choose: t("datasources.chooseType"),
            help: t("datasources.typeHelp"),
            noSettings: t("datasources.noSettings"),
          }}
          save={({ name, type, config }) => {
            const body: DatasourceBody = { name, type, connection_config: asConfig(config) };
            return datasource ? ok(api.PUT("/api/datasources/{id}", { params: { path: { id: datasource.id } }, body })) : ok(api.POST("/api/datasources", { body }));
          }}
          onSaved={(saved) => {
            client.setQueryData(datasourceKey(saved.id), saved);
            // Everything read about this datasource (its health, the databases on its server) may
            // have changed with its settings: `["datasource", id]` is the prefix of all of it.
            client.invalidateQueries({ queryKey: datasourceKey(saved.id) });
            client.invalidateQueries({ queryKey: datasourcesKey });
          }}
          onDone={onClose}
        />
      )}
    </PluginConfigDialog>
  );
}
