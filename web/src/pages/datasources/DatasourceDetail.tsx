/**
 * `/datasources/:id`: one datasource — its settings (secrets hidden), its
 * health, a connection test showing the server's real answer, its health
 * history and the databases on its server.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { Status } from "../../components/Status";
import { QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { datasourceKey, datasourcesKey, fromConfig, healthChecksKey, useDatasource, type Datasource } from "./api";
import { Databases } from "./Databases";
import { DatasourceDialog } from "./DatasourceDialog";
import { DeleteDatasource } from "./DeleteDatasource";
import { describeCheck, describeTest } from "./describe";
import { HealthHistory } from "./HealthHistory";
import { ActionStatus, failureOutcome, type Outcome } from "./shared/ActionStatus";
import { ConfigFacts } from "./shared/ConfigFacts";
import { useWhen } from "./shared/useWhen";
import { fieldsFor } from "./shared/pluginTypes";
import { usePlugins } from "./shared/usePlugins";
import { Section } from "./shared/Section";

export function DatasourceDetail() {
  const { id = "" } = useParams();
  const datasource = useDatasource(id);
  return <QueryState query={datasource}>{(d) => <DatasourcePage datasource={d} />}</QueryState>;
}

function DatasourcePage({ datasource }: { datasource: Datasource }) {
  const t = useT();
  const can = useCan();
  const navigate = useNavigate();
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const writer = can("datasources:write");
  return (
    <>
      <div className="page-head">
        <h1>{datasource.name}</h1>
        {writer && (
          <div className="actions">
            <TestButton id={datasource.id} onOutcome={setOutcome} />
            <CheckButton id={datasource.id} onOutcome={setOutcome} />
            <button type="button" className="secondary" onClick={() => setEditing(true)}>
              {t("common.edit")}
            </button>
            <button type="button" className="danger" onClick={() => setDeleting(true)}>
              {t("common.delete")}
            </button>
          </div>
        )}
      </div>
      <ActionStatus outcome={outcome} />
      <Facts datasource={datasource} />
      <HealthHistory id={datasource.id} />
      <Databases datasource={datasource} />
      <DatasourceDialog open={editing} datasource={datasource} onClose={() => setEditing(false)} />
      <DeleteDatasource datasource={deleting ? datasource : null} onClose={() => setDeleting(false)} onDeleted={() => navigate("/datasources")} />
    </>
  );
}

/** Probes now and says what the server answered; nothing is recorded. */
function TestButton({ id, onOutcome }: { id: string; onOutcome: (o: Outcome) => void }) {
  const t = useT();
  const test = useMutation({
    mutationFn: () => ok(api.POST("/api/datasources/{id}/test-connection", { params: { path: { id } } })),
    onMutate: () => onOutcome(null),
    onSuccess: (r) => onOutcome(describeTest(r, t)),
    onError: (e) => onOutcome(failureOutcome(e)),
  });
  return (
    <button type="button" disabled={test.isPending} onClick={() => test.mutate()}>
      {t(test.isPending ? "datasources.testing" : "datasources.test")}
    </button>
  );
}

/** Probes now and records the check, which moves the status and the history. */
function CheckButton({ id, onOutcome }: { id: string; onOutcome: (o: Outcome) => void }) {
  const t = useT();
  const client = useQueryClient();
  const check = useMutation({
    mutationFn: () => ok(api.POST("/api/datasources/{id}/health-check", { params: { path: { id } } })),
    onMutate: () => onOutcome(null),
    onSuccess: (r) => {
      client.setQueryData(datasourceKey(id), r.datasource);
      client.invalidateQueries({ queryKey: healthChecksKey(id) });
      client.invalidateQueries({ queryKey: datasourcesKey });
      onOutcome(describeCheck(r.check, t));
    },
    onError: (e) => onOutcome(failureOutcome(e)),
  });
  return (
    <button type="button" className="secondary" disabled={check.isPending} onClick={() => check.mutate()}>
      {t(check.isPending ? "datasources.checking" : "datasources.checkNow")}
    </button>
  );
}

function Facts({ datasource }: { datasource: Datasource }) {
  const t = useT();
  const when = useWhen();
  // Labels come from the engine's schema when it is installed; raw keys in words otherwise.
  const plugins = usePlugins("engine");
  const fields = fieldsFor(plugins.data ?? [], datasource.type);
  return (
    <Section title={t("datasources.connection")}>
      <dl className="facts">
        <dt>{t("datasources.type")}</dt>
        <dd>{datasource.type}</dd>
        <ConfigFacts config={fromConfig(datasource.connection_config)} fields={fields} />
        <dt>{t("datasources.status")}</dt>
        <dd>
          <Status value={datasource.status} />
        </dd>
        <dt>{t("datasources.enabled")}</dt>
        <dd>{t(datasource.enabled ? "common.yes" : "common.no")}</dd>
        <dt>{t("datasources.failures")}</dt>
        <dd>{datasource.consecutive_failures}</dd>
        <dt>{t("datasources.lastCheck")}</dt>
        <dd>{when(datasource.last_health_check_at)}</dd>
        <dt>{t("datasources.created")}</dt>
        <dd>{when(datasource.created_at)}</dd>
      </dl>
    </Section>
  );
}
