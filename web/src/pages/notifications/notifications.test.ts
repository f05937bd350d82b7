import { describe, expect, it } from "vitest";
import { ApiFailure } from "../../api/errors";
import { fieldsOf, initialValues } from "../../lib/schemaForm";
import {
  assembleChannel,
  buildRouting,
  objectTexts,
  parseObjects,
  placeChannelFailure,
  routingOf,
  splitSchema,
  type Channel,
  type ChannelDraft,
} from "./channelForm";
import { inboxQuery, NO_FILTER, withFilter } from "./inbox";
import { DELIVERY_STATUSES, isOneOf, KINDS, SEVERITIES } from "./kinds";
import { aboutName } from "./names";
import { nameMap } from "../../lib/names";

const whatsapp = {
  type: "object",
  required: ["phone_number_id", "recipients", "access_token", "template"],
  properties: {
    phone_number_id: { type: "string" },
    recipients: { type: "array", items: { type: "string" } },
    access_token: { type: "string", writeOnly: true },
    template: { type: "object", description: "An approved template" },
  },
};

describe("splitSchema", () => {
  it("takes object properties apart so they are edited as JSON", () => {
    const { flat, objects } = splitSchema(whatsapp);
    expect(Object.keys(flat.properties ?? {})).toEqual(["phone_number_id", "recipients", "access_token"]);
    expect(flat.required).toEqual(["phone_number_id", "recipients", "access_token"]);
    expect(objects).toEqual([{ name: "template", label: "Template", description: "An approved template", required: true }]);
  });

  it("accepts a missing or empty schema", () => {
    expect(splitSchema(undefined)).toEqual({ flat: { properties: {}, required: [] }, objects: [] });
  });
});

describe("object fields", () => {
  const objects = splitSchema(whatsapp).objects;

  it("show the stored object as JSON and parse it back", () => {
    const texts = objectTexts(objects, { template: { name: "alert", language: "pt_BR" } });
    expect(JSON.parse(texts.template)).toEqual({ name: "alert", language: "pt_BR" });
    expect(parseObjects(objects, texts)).toEqual({ config: { template: { name: "alert", language: "pt_BR" } }, errors: {} });
  });

  it("refuse text that is not a JSON object, and an empty required one", () => {
    expect(parseObjects(objects, { template: "[1]" }).errors).toEqual({ template: "json" });
    expect(parseObjects(objects, { template: "{oops" }).errors).toEqual({ template: "json" });
    expect(parseObjects(objects, { template: "  " }).errors).toEqual({ template: "required" });
  });
});

describe("routing", () => {
  it("starts with the server's defaults for a new channel", () => {
    expect(routingOf()).toEqual({ enabled: true, events: [], minSeverity: "info", jobIds: [], datasourceIds: [], suppressMinutes: "30" });
  });

  it("sends events in the server's order and checks the suppression window", () => {
    const r = { ...routingOf(), events: ["backup_failed" as const, "backup_completed" as const], suppressMinutes: "0" };
    expect(buildRouting(r).rules).toMatchObject({ events: ["backup_completed", "backup_failed"], suppress_minutes: 0 });
    expect(buildRouting({ ...r, suppressMinutes: "1.5" }).errors).toEqual({ suppress_minutes: "whole number" });
    expect(buildRouting({ ...r, suppressMinutes: "-1" }).errors).toEqual({ suppress_minutes: "min:0" });
    expect(buildRouting({ ...r, suppressMinutes: "10081" }).errors).toEqual({ suppress_minutes: "max:10080" });
    expect(buildRouting({ ...r, suppressMinutes: "" }).rules.suppress_minutes).toBeUndefined();
  });

  it("reads a stored channel's rules", () => {
    const c = {
      enabled: false,
      events: ["backup_failed"],
      min_severity: "warning",
      job_ids: ["j1"],
      datasource_ids: [],
      suppress_minutes: 5,
    } as unknown as Channel;
    expect(routingOf(c)).toEqual({ enabled: false, events: ["backup_failed"], minSeverity: "warning", jobIds: ["j1"], datasourceIds: [], suppressMinutes: "5" });
  });
});

describe("assembleChannel", () => {
  const { flat, objects } = splitSchema(whatsapp);
  const fields = fieldsOf(flat, ["access_token"]);
  const draft = (over: Partial<ChannelDraft>): ChannelDraft => ({
    name: " Ops ",
    type: "whatsapp",
    fields,
    values: { ...initialValues(fields), phone_number_id: "123", recipients: "+5511987654321", access_token: "tok" },
    objects,
    texts: { template: '{"name":"alert","language":"en_US"}' },
    routing: routingOf(),
    editing: false,
    ...over,
  });

  it("builds the request body", () => {
    const { body } = assembleChannel(draft({}));
    expect(body).toEqual({
      name: "Ops",
      type: "whatsapp",
      config: { phone_number_id: "123", recipients: ["+5511987654321"], access_token: "tok", template: { name: "alert", language: "en_US" } },
      enabled: true,
      events: [],
      min_severity: "info",
      job_ids: [],
      datasource_ids: [],
      suppress_minutes: 30,
    });
  });

  it("keeps the stored secret on an edit when its input is left empty", () => {
    const d = draft({ editing: true });
    const { body } = assembleChannel({ ...d, values: { ...d.values, access_token: "" } });
    expect(body?.config).not.toHaveProperty("access_token");
  });

  it("gives the errors of channel fields and config fields apart", () => {
    const d = draft({ name: "", texts: { template: "" } });
    const { body, errors } = assembleChannel({ ...d, values: { ...d.values, phone_number_id: "" } });
    expect(body).toBeUndefined();
    expect(errors).toEqual({ fields: { name: "required" }, config: { phone_number_id: "required", template: "required" } });
  });
});

describe("placeChannelFailure", () => {
  const config = ["url", "secret", "timeout_secs"];

  it("puts a config field's refusal under its input", () => {
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "must be sent again", "config.secret"), config)).toEqual({
      fields: {},
      config: { secret: "must be sent again" },
      general: undefined,
    });
  });

  it("reads the field a plugin named at the start of its message", () => {
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "url: `x` is not an http(s) URL", "config"), config)).toEqual({
      fields: {},
      config: { url: "`x` is not an http(s) URL" },
    });
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "config: url: `x` is not an http(s) URL", "config"), config).config).toEqual({
      url: "`x` is not an http(s) URL",
    });
  });

  it("puts a rule's refusal under the rule, and the rest above the form", () => {
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "`x` is not a notification kind", "events[1]"), config).fields).toEqual({
      events: "`x` is not a notification kind",
    });
    expect(placeChannelFailure(new ApiFailure(409, "too_many_channels", "there are 100 channels"), config).general).toBe("there are 100 channels");
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "plugin refused", "config"), config).general).toBe("config: plugin refused");
    expect(placeChannelFailure(new ApiFailure(422, "invalid", "config: plugin refused", "config"), config).general).toBe("config: plugin refused");
  });
});

describe("inboxQuery", () => {
  it("sends only the filters chosen", () => {
    expect(inboxQuery(NO_FILTER)).toEqual({ page: 1, limit: 25 });
    expect(inboxQuery({ read: "unread", severity: "critical", type: "backup_failed", page: 3 })).toEqual({
      read: false,
      severity: "critical",
      type: "backup_failed",
      page: 3,
      limit: 25,
    });
    expect(inboxQuery({ ...NO_FILTER, read: "read" }).read).toBe(true);
  });

  it("goes back to the first page when a filter changes", () => {
    expect(withFilter({ ...NO_FILTER, page: 4 }, { severity: "info" })).toEqual({ ...NO_FILTER, severity: "info", page: 1 });
  });
});

describe("names", () => {
  const names = nameMap([[{ id: "d1", name: "Chinook" }], undefined, [{ id: "u1", username: "alice" }], [{ id: "j1", name: "Nightly" }]]);

  it("maps ids of every list to names", () => {
    expect(names.get("d1")).toBe("Chinook");
    expect(names.get("u1")).toBe("alice");
  });

  it("names what a notification is about, or the job of an execution", () => {
    expect(aboutName({ entity_type: "datasource", entity_id: "d1", metadata: {} }, names)).toBe("Chinook");
    expect(aboutName({ entity_type: "backup_execution", entity_id: "e1", metadata: { job_id: "j1" } }, names)).toBe("Nightly");
    expect(aboutName({ entity_type: "backup_execution", entity_id: "e1", metadata: null }, names)).toBeUndefined();
  });
});

describe("enum lists", () => {
  it("hold every value once, in order", () => {
    expect(KINDS[0]).toBe("backup_completed");
    expect(new Set(KINDS).size).toBe(11);
    expect(SEVERITIES).toEqual(["info", "warning", "critical"]);
    expect(DELIVERY_STATUSES).toContain("suppressed");
    expect(isOneOf(SEVERITIES, "warning")).toBe(true);
    expect(isOneOf(SEVERITIES, "loud")).toBe(false);
  });
});
