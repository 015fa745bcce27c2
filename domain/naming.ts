// Directory naming rules for the accounts the provider creates. Pure and deterministic:
// the same employee always gets the same username, so a retried step finds its account.

/** "Émilie", "de la Tour" → "emilie.delatour" (lower-case ASCII, dot-separated, ≤ 64 chars). */
export function usernameFor(employee: { firstName: string; lastName: string }): string {
  const part = (s: string) =>
    s
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '');
  const first = part(employee.firstName) || 'user';
  const last = part(employee.lastName);
  const name = last ? `${first}.${last}` : first;
  return /^[a-z]/.test(name) ? name.slice(0, 64) : `u${name}`.slice(0, 64);
}
