/** English texts of the backups screens (keys start with "backups."). */
export default {
} as const;
