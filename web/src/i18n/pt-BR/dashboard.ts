import type { Messages } from "../index";

/** Textos em português do Brasil das telas de dashboard. */
const messages: Partial<Messages> = {
};
export default messages;
