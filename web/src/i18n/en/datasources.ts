/** English texts of the datasources screens (keys start with "datasources."). */
export default {
} as const;
