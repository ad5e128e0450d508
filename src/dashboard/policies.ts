/**
 * Who may do what on the dashboard. Route handlers ask here; they never compare roles themselves.
 */

export type Role = 'viewer' | 'moderator' | 'admin';
export type Action = 'view' | 'decide' | 'administer';

const RANK: Record<Role, number> = { viewer: 0, moderator: 1, admin: 2 };
const NEEDS: Record<Action, Role> = { view: 'viewer', decide: 'moderator', administer: 'admin' };

export function can(role: Role, action: Action): boolean {
  return RANK[role] >= RANK[NEEDS[action]];
}
