/** English texts of the settings screens (keys start with "settings."). */
export default {
} as const;
