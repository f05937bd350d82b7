/** English texts of the storages screens (keys start with "storages."). */
export default {
} as const;
