import type { Messages } from "../index";

/** Textos em português do Brasil das telas de jobs. */
const messages: Partial<Messages> = {
};
export default messages;
