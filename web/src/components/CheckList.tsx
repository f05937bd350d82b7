import { toggle } from "../lib/lists";
import { CheckboxField } from "./Field";

/**
 * A group of checkboxes choosing some of `items`, in a fieldset named by
 * its legend. What is checked is kept in the items' order.
 */
export function CheckList<T extends string>({
  legend,
  help,
  items,
  checked,
  onChange,
  error,
  className = "form-grid",
}: {
  legend: string;
  help?: string;
  items: readonly { value: T; label: string }[];
  checked: readonly T[];
  onChange: (next: T[]) => void;
  error?: string;
  /** How the checkboxes are laid out. */
  className?: string;
}) {
  const order = items.map((i) => i.value);
  return (
    <fieldset>
      <legend>{legend}</legend>
      {help && <small className="help">{help}</small>}
      <div className={className}>
        {items.map((i) => (
          <CheckboxField key={i.value} label={i.label} checked={checked.includes(i.value)} onChange={(on) => onChange(toggle(checked, i.value, on, order))} />
        ))}
      </div>
      {error && <small className="field-error">{error}</small>}
    </fieldset>
  );
}
