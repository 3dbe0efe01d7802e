/** Whether a calling AE title from a host may associate, by the allow-list. */
export function callerAllowed(
  allowed: readonly { aeTitle: string; host: string }[],
  aeTitle: string,
  host: string,
): boolean {
  const h = host.replace(/^::ffff:/, '');
  return allowed.some(
    (a) => (a.aeTitle === '*' || a.aeTitle === aeTitle.trim()) && (a.host === '*' || a.host === h),
  );
}
