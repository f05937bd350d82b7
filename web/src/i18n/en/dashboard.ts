/** English texts of the dashboard screens (keys start with "dashboard."). */
export default {
} as const;
