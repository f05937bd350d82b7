/** English texts of the jobs screens (keys start with "jobs."). */
export default {
} as const;
