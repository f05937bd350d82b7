/**
 * `/storages/:id`: one storage — its settings, health and free space, a
 * test showing the server's real answer, and an explorer of its files.
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
import { refreshStorages, useStorage, type Storage } from "./api";
import { DeleteStorage } from "./DeleteStorage";
import { describeStorageTest, freeSpace } from "./describe";
import { FileExplorer } from "./files/FileExplorer";
import { StorageDialog } from "./StorageDialog";

export function StorageDetail() {
  const { id = "" } = useParams();
  const storage = useStorage(id);
  return <QueryState query={storage}>{(s) => <StoragePage storage={s} />}</QueryState>;
}

function StoragePage({ storage }: { storage: Storage }) {
  const t = useT();
  const can = useCan();
  const navigate = useNavigate();
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <DetailHead title={storage.name} writer={can("storages:write")} onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)}>
        <TestButton id={storage.id} onOutcome={setOutcome} />
      </DetailHead>
      <ActionStatus outcome={outcome} />
      <Facts storage={storage} />
      {can("storages:explore") ? <FileExplorer storage={storage} /> : <p className="note">{t("storages.noExplore")}</p>}
      <StorageDialog open={editing} storage={storage} onClose={() => setEditing(false)} />
      <DeleteStorage storage={deleting ? storage : null} onClose={() => setDeleting(false)} onDeleted={() => navigate("/storages")} />
    </>
  );
}

/** Checks the storage now; the server records the result (status, free space), so the storage is read again. */
function TestButton({ id, onOutcome }: { id: string; onOutcome: (o: Outcome) => void }) {
  const t = useT();
  const client = useQueryClient();
  return (
    <ActionButton
      label={t("storages.test")}
      pendingLabel={t("storages.testing")}
      call={() => ok(api.POST("/api/storage-locations/{id}/test", { params: { path: { id } } }))}
      onDone={() => refreshStorages(client)}
      describe={(r) => describeStorageTest(r, t)}
      onOutcome={onOutcome}
    />
  );
}

function Facts({ storage }: { storage: Storage }) {
  const t = useT();
  const when = useWhen();
  return (
    <Section title={t("storages.settings")}>
      <dl className="facts">
        <dt>{t("storages.type")}</dt>
        <dd>{storage.type}</dd>
        <ConfigFacts kind="storage" type={storage.type} config={fromConfig(storage.config)} />
        <dt>{t("storages.status")}</dt>
        <dd>
          <Status value={storage.status} />
        </dd>
        <dt>{t("storages.freeSpace")}</dt>
        <dd>{freeSpace(storage.available_space_gb)}</dd>
        <dt>{t("storages.default")}</dt>
        <dd>{t(storage.is_default ? "common.yes" : "common.no")}</dd>
        <dt>{t("storages.lastChecked")}</dt>
        <dd>{when(storage.last_health_check_at)}</dd>
        <dt>{t("storages.created")}</dt>
        <dd>{when(storage.created_at)}</dd>
      </dl>
    </Section>
  );
}
