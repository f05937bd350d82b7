import type { Messages } from "../index";

/** Textos em português do Brasil das telas de executions. */
const messages: Partial<Messages> = {
};
export default messages;
