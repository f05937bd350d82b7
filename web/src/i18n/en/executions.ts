/** English texts of the executions screens (keys start with "executions."). */
export default {
} as const;
