/** English texts of the notifications screens (keys start with "notifications."). */
export default {
} as const;
