/**
 * "Delete X?" (or "Revoke X?", "Revert to version 3?") for one thing, and
 * the call it confirms. The server's refusal (a 409 saying what still
 * uses the thing) is shown in the dialog; closing it forgets the refusal.
 */
import { useMutation } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ConfirmDialog } from "./Dialog";
import { ErrorNote } from "./State";

export function ConfirmAction<T, R>({
  item,
  title,
  body,
  confirmLabel,
  action,
  onDone,
  onClose,
}: {
  /** What the action is about; the dialog is open while there is one. */
  item: T | null;
  title: string;
  body: ReactNode;
  confirmLabel: string;
  action: (item: T) => Promise<R>;
  /** After the call succeeded and the dialog was closed: refresh what it changed, say so, go elsewhere. */
  onDone?: (answer: R, item: T) => void;
  onClose: () => void;
}) {
  const call = useMutation({
    mutationFn: action,
    onSuccess: (answer, done) => {
      onClose();
      onDone?.(answer, done);
    },
  });
  return (
    <ConfirmDialog
      open={item !== null}
      title={title}
      body={body}
      confirmLabel={confirmLabel}
      busy={call.isPending}
      error={call.error ? <ErrorNote error={call.error} /> : undefined}
      onConfirm={() => item !== null && call.mutate(item)}
      onClose={() => {
        call.reset();
        onClose();
      }}
    />
  );
}
