import type { ReactNode } from "react";
import { useT } from "../i18n";

/**
 * A button in a table row: it shows a short verb ("Edit") and is named
 * with the row's thing too ("Edit Chinook"), so a list of buttons read
 * out of context still says what each one acts on.
 */
export function RowButton({ label, target, onClick, danger }: { label: string; target: ReactNode; onClick: () => void; danger?: boolean }) {
  return (
    <button type="button" className={danger ? "danger" : "secondary"} onClick={onClick}>
      {label}
      <span className="visually-hidden"> {target}</span>
    </button>
  );
}

/** A row's Edit and Delete, each named with the row's thing ("Edit Chinook", "Delete Chinook"). */
export function EditDeleteButtons({ target, onEdit, onDelete }: { target: ReactNode; onEdit: () => void; onDelete: () => void }) {
  const t = useT();
  return (
    <div className="actions">
      <RowButton label={t("common.edit")} target={target} onClick={onEdit} />
      <RowButton label={t("common.delete")} target={target} onClick={onDelete} danger />
    </div>
  );
}
