/**
 * `/datasources/:id`: one datasource — its settings (secrets hidden), its
 * health, a connection test showing the server's real answer, its health
 * history and the databases on its server.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { ActionButton, ActionStatus, type Outcome } from "../../components/ActionStatus";
import { ConfigFacts } from "../../components/ConfigFacts";
import { useWhen } from "../../components/dates";
import { DetailHead } from "../../components/PageHead";
import { Section } from "../../components/Section";
import { Status } from "../../components/Status";
import { QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { fromConfig } from "../../lib/pluginTypes";
import { datasourceKey, datasourcesKey, healthChecksKey, useDatasource, type Datasource } from "./api";
import { Databases } from "./Databases";
import { DatasourceDialog } from "./DatasourceDialog";
import { DeleteDatasource } from "./DeleteDatasource";
import { describeCheck, describeTest } from "./describe";
import { HealthHistory } from "./HealthHistory";

export function DatasourceDetail() {
  const { id = "" } = useParams();
  const datasource = useDatasource(id);
  return <QueryState query={datasource}>{(d) => <DatasourcePage datasource={d} />}</QueryState>;
}

function DatasourcePage({ datasource }: { datasource: Datasource }) {
  const can = useCan();
  const navigate = useNavigate();
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <DetailHead title={datasource.name} writer={can("datasources:write")} onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)}>
        <TestButton id={datasource.id} onOutcome={setOutcome} />
        <CheckButton id={datasource.id} onOutcome={setOutcome} />
      </DetailHead>
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
  return (
    <ActionButton
      label={t("datasources.test")}
      pendingLabel={t("datasources.testing")}
      call={() => ok(api.POST("/api/datasources/{id}/test-connection", { params: { path: { id } } }))}
      describe={(r) => describeTest(r, t)}
      onOutcome={onOutcome}
    />
  );
}

/** Probes now and records the check, which moves the status and the history. */
function CheckButton({ id, onOutcome }: { id: string; onOutcome: (o: Outcome) => void }) {
  const t = useT();
  const client = useQueryClient();
  return (
    <ActionButton
      label={t("datasources.checkNow")}
      pendingLabel={t("datasources.checking")}
      secondary
      call={() => ok(api.POST("/api/datasources/{id}/health-check", { params: { path: { id } } }))}
      onDone={(r) => {
        client.setQueryData(datasourceKey(id), r.datasource);
        client.invalidateQueries({ queryKey: healthChecksKey(id) });
        client.invalidateQueries({ queryKey: datasourcesKey });
      }}
      describe={(r) => describeCheck(r.check, t)}
      onOutcome={onOutcome}
    />
  );
}

function Facts({ datasource }: { datasource: Datasource }) {
  const t = useT();
  const when = useWhen();
  return (
    <Section title={t("datasources.connection")}>
      <dl className="facts">
        <dt>{t("datasources.type")}</dt>
        <dd>{datasource.type}</dd>
        <ConfigFacts kind="engine" type={datasource.type} config={fromConfig(datasource.connection_config)} />
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
