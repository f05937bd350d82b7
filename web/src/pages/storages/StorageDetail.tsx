/**
 * `/storages/:id`: one storage — its settings, health and free space, a
 * test showing the server's real answer, and an explorer of its files.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { Status } from "../../components/Status";
import { QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { ActionStatus, failureOutcome, type Outcome } from "../datasources/shared/ActionStatus";
import { ConfigFacts } from "../datasources/shared/ConfigFacts";
import { useWhen } from "../datasources/shared/useWhen";
import { fieldsFor } from "../datasources/shared/pluginTypes";
import { usePlugins } from "../datasources/shared/usePlugins";
import { fromConfig, refreshStorages, useStorage, type Storage } from "./api";
import { DeleteStorage } from "./DeleteStorage";
import { describeStorageTest, freeSpace } from "./describe";
import { FileExplorer } from "./files/FileExplorer";
import { StorageDialog } from "./StorageDialog";
import { Section } from "../datasources/shared/Section";

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
  const writer = can("storages:write");
  return (
    <>
      <div className="page-head">
        <h1>{storage.name}</h1>
        {writer && (
          <div className="actions">
            <TestButton id={storage.id} onOutcome={setOutcome} />
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
  const test = useMutation({
    mutationFn: () => ok(api.POST("/api/storage-locations/{id}/test", { params: { path: { id } } })),
    onMutate: () => onOutcome(null),
    onSuccess: (r) => {
      refreshStorages(client);
      onOutcome(describeStorageTest(r, t));
    },
    onError: (e) => onOutcome(failureOutcome(e)),
  });
  return (
    <button type="button" disabled={test.isPending} onClick={() => test.mutate()}>
      {t(test.isPending ? "storages.testing" : "storages.test")}
    </button>
  );
}

function Facts({ storage }: { storage: Storage }) {
  const t = useT();
  const when = useWhen();
  // Labels come from the storage plugin's schema when it is installed; raw keys in words otherwise.
  const plugins = usePlugins("storage");
  const fields = fieldsFor(plugins.data ?? [], storage.type);
  return (
    <Section title={t("storages.settings")}>
      <dl className="facts">
        <dt>{t("storages.type")}</dt>
        <dd>{storage.type}</dd>
        <ConfigFacts config={fromConfig(storage.config)} fields={fields} />
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
