export function renderErrorCodes(_t: string): string { return 'export const ErrorCode = {} as const;\n'; }
