import { ROLES, isRole, roleAllows } from './roles';

describe('roleAllows', () => {
  it.each([
    ['viewer', 'viewer', true], ['viewer', 'operator', false], ['viewer', 'admin', false],
    ['operator', 'viewer', true], ['operator', 'operator', true], ['operator', 'admin', false],
    ['admin', 'viewer', true], ['admin', 'operator', true], ['admin', 'admin', true],
  ] as const)('%s may do what needs %s: %s', (held, needed, expected) => {
    expect(roleAllows(held, needed)).toBe(expected);
  });

  it('knows exactly the three roles', () => {
    expect(ROLES).toEqual(['viewer', 'operator', 'admin']);
    expect(isRole('operator')).toBe(true);
    expect(isRole('op')).toBe(false);
    expect(isRole(undefined)).toBe(false);
  });
});
