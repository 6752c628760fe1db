export const ErrorCode = {} as const;
