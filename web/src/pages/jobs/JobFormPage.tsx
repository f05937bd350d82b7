/**
 * `/jobs/new` and `/jobs/:id`: a job's form. The edit screen waits for
 * the job and the names it shows, then fills the form once. Without
 * `jobs:write` a job is shown read-only, and there is no new job to add.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { CheckboxField, FormError, SelectField, TextField, useFieldMessage } from "../../components/Field";
import { Needs } from "../../components/Needs";
import { ErrorNote, Loading } from "../../components/State";
import { useT } from "../../i18n";
import { BackupOptionsFields } from "./BackupOptionsFields";
import { checkForm, editedFields, emptyForm, FIELDS, formFromJob, placeJobFailure, toBody, withoutFields, type Job, type JobFormValues } from "./jobForm";
import { freeObject } from "./payload";
import { jobKeys, useDatasourceChoices, useStorageChoices, type Choice, type StorageChoice } from "./queries";
import { RetentionFields } from "./RetentionFields";
import { browserZone, ScheduleFields } from "./ScheduleFields";
import { StorageFields } from "./StorageFields";
import "./jobs.css";

export function JobFormPage() {
  const { id } = useParams();
  const t = useT();
  const can = useCan();
  const writable = can("jobs:write");
  const job = useQuery({
    queryKey: jobKeys.one(id ?? ""),
    queryFn: () => ok(api.GET("/api/backup-jobs/{id}", { params: { path: { id: id ?? "" } } })),
    enabled: id !== undefined,
    // The form is filled once, so it is filled from the server's answer, never from a cached copy an edit made stale.
    refetchOnMount: "always",
  });
  const datasources = useDatasourceChoices();
  const storages = useStorageChoices();
  const failed = (id && job.error) || datasources.error || storages.error;
  // A list the user may not read is not fetched (fetchStatus idle): it is not waited for.
  const waiting = (id && !job.isFetchedAfterMount) || (datasources.isPending && datasources.fetchStatus !== "idle") || (storages.isPending && storages.fetchStatus !== "idle");
  const name = job.data?.name ?? "";
  const title = !id ? t("jobs.addTitle") : writable ? t("jobs.editTitle", { name }) : t("jobs.viewTitle", { name });
  if (!id && !writable) {
    return (
      <>
        <div className="page-head">
          <h1>{title}</h1>
        </div>
        <Needs permission="jobs:write">{null}</Needs>
      </>
    );
  }
  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
      </div>
      {failed ? (
        <ErrorNote error={failed} />
      ) : waiting ? (
        <Loading />
      ) : (
        <JobForm key={id ?? "new"} job={id ? job.data : undefined} datasources={datasources.data ?? []} storages={storages.data ?? []} />
      )}
    </>
  );
}

/**
 * The form itself, filled once from `job` (or a new job's defaults); live
 * refreshes of the job never overwrite what is typed. A save's failure
 * stays under the inputs it names until they are edited, so a message
 * about what was typed before never hides the schedule preview's answer
 * about what is typed now.
 */
function JobForm({ job, datasources, storages }: { job?: Job; datasources: readonly Choice[]; storages: readonly StorageChoice[] }) {
  const t = useT();
  const can = useCan();
  const message = useFieldMessage();
  const navigate = useNavigate();
  const client = useQueryClient();
  const form = useRef<HTMLFormElement>(null);
  const [values, setValues] = useState<JobFormValues>(() =>
    job ? formFromJob(job) : emptyForm(browserZone(), (storages.find((s) => s.isDefault) ?? storages[0])?.id),
  );
  // Client-side checks show from the first Save on, and follow the typing after it.
  const [submitted, setSubmitted] = useState(false);
  // The last save's failure, placed: an input's message goes when the input is edited.
  const [placed, setPlaced] = useState<{ fields: Record<string, string>; general?: string }>({ fields: {} });
  const writable = can("jobs:write");
  const save = useMutation({
    mutationFn: (v: JobFormValues) => {
      const body = toBody(v);
      const sent = { ...body, retention_policy: freeObject(body.retention_policy), backup_options: freeObject(body.backup_options) };
      return job
        ? ok(api.PUT("/api/backup-jobs/{id}", { params: { path: { id: job.id } }, body: sent }))
        : ok(api.POST("/api/backup-jobs", { body: sent }));
    },
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: jobKeys.all });
      navigate("/jobs");
    },
    onMutate: () => setPlaced({ fields: {} }),
    onError: (failure) => {
      setPlaced(placeJobFailure(failure));
      focusFirstInvalid(form.current);
    },
  });
  const checks = submitted ? checkForm(values) : {};
  const errors: Record<string, string | undefined> = {};
  for (const field of Object.values(FIELDS)) errors[field] = message(checks[field]) ?? placed.fields[field];
  /** Every edit goes through here (each event changes the form once). */
  const change = (next: JobFormValues) => {
    const edited = editedFields(values, next);
    setPlaced((p) => {
      const fields = withoutFields(p.fields, edited);
      return fields === p.fields ? p : { ...p, fields };
    });
    setValues(next);
  };
  const patch = (p: Partial<JobFormValues>) => change({ ...values, ...p });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!writable) return;
    setSubmitted(true);
    if (Object.keys(checkForm(values)).length === 0) save.mutate(values);
    else focusFirstInvalid(form.current);
  };

  return (
    <form ref={form} className="job-form" onSubmit={submit} noValidate>
      {/* Without jobs:write every input is shown but disabled (the retention preview, a read, stays usable). */}
      <fieldset className="bare" disabled={!writable}>
        <div className="panel form-grid">
          <TextField label={t("jobs.name")} value={values.name} onChange={(name) => patch({ name })} required autoComplete="off" error={errors[FIELDS.name]} />
          <SelectField
            label={t("jobs.datasource")}
            value={values.datasourceId}
            onChange={(datasourceId) => patch({ datasourceId })}
            options={[{ value: "", label: t("jobs.chooseDatasource") }, ...datasources.map((d) => ({ value: d.id, label: d.name }))]}
            required
            help={datasources.length === 0 ? <Link to="/datasources">{t("jobs.noDatasources")}</Link> : undefined}
            error={errors[FIELDS.datasource]}
          />
          <CheckboxField label={t("jobs.enabledField")} checked={values.enabled} onChange={(enabled) => patch({ enabled })} help={t("jobs.enabledHelp")} />
        </div>
        <div className="panel job-storages">
          <StorageSection values={values} onChange={change} storages={storages} errors={errors} />
        </div>
        <div className="panel">
          <ScheduleFields
            cron={values.scheduleCron}
            timezone={values.scheduleTimezone}
            onCron={(scheduleCron) => patch({ scheduleCron })}
            onTimezone={(scheduleTimezone) => patch({ scheduleTimezone })}
            errors={errors}
          />
        </div>
      </fieldset>
      <RetentionFields values={values} onChange={patch} errors={errors} jobId={job?.id} readOnly={!writable} />
      <fieldset className="bare" disabled={!writable}>
        <BackupOptionsFields values={values} onChange={patch} errors={errors} />
      </fieldset>
      <FormError message={placed.general} />
      <div className="actions">
        {writable ? (
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? t("common.saving") : t("common.save")}
          </button>
        ) : (
          <p className="note">{t("common.forbidden", { permission: "jobs:write" })}</p>
        )}
        <Link className="button secondary" to="/jobs">
          {writable ? t("common.cancel") : t("common.back")}
        </Link>
      </div>
    </form>
  );
}

/** Takes the reader to the first input with a message, once the messages are drawn. */
function focusFirstInvalid(form: HTMLFormElement | null) {
  requestAnimationFrame(() => form?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
}

/** The storage inputs, or where to add one when none exists yet. */
function StorageSection(props: Parameters<typeof StorageFields>[0]) {
  const t = useT();
  if (props.storages.length === 0) {
    return (
      <p className="note">
        <Link to="/storages">{t("jobs.noStorages")}</Link>
      </p>
    );
  }
  return <StorageFields {...props} />;
}
