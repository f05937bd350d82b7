/**
 * A modal dialog on the native `<dialog>`: the browser gives it the
 * dialog role, traps focus inside, closes it on Escape and returns focus
 * to what opened it.
 */
import { useEffect, useId, useRef, type ReactNode } from "react";
import { useT } from "../i18n";

export function Dialog({
  title,
  open,
  onClose,
  children,
  wide,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const t = useT();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      d.showModal();
      // The browser focuses the first control, the × in the header; start
      // on the first field instead, so typing goes where it is meant to.
      d.querySelector<HTMLElement>(".dialog-head ~ * :is(input, select, textarea, button)")?.focus();
    }
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={wide ? "wide" : undefined}
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <>
          <header className="dialog-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon" aria-label={t("common.close")} onClick={onClose}>
              ×
            </button>
          </header>
          {children}
        </>
      )}
    </dialog>
  );
}

/** "Delete X?" with the thing's name, and the action as the confirm button. */
export function ConfirmDialog({
  open,
  title,
  body,
  confirmLabel,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  body: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  error?: ReactNode;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const t = useT();
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <div className="dialog-body">{body}</div>
      {error}
      <div className="actions">
        <button type="button" className="secondary" onClick={onClose}>
          {t("common.cancel")}
        </button>
        <button type="button" className="danger" disabled={busy} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

/** The foot of a form in a dialog: Cancel, then the submit button ("Save", "Saving…" while the call runs). */
export function DialogActions({
  onCancel,
  saving,
  disabled,
  submitLabel,
}: {
  onCancel: () => void;
  saving: boolean;
  /** Submitting is refused for another reason than a call running (a required input left empty). */
  disabled?: boolean;
  /** Said instead of "Save" (and instead of "Saving…" too). */
  submitLabel?: string;
}) {
  const t = useT();
  return (
    <div className="actions end">
      <button type="button" className="secondary" onClick={onCancel}>
        {t("common.cancel")}
      </button>
      <button type="submit" disabled={saving || disabled}>
        {submitLabel ?? (saving ? t("common.saving") : t("common.save"))}
      </button>
    </div>
  );
}
