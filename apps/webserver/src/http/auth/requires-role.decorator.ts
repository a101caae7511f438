import { SetMetadata } from '@nestjs/common';
import type { Role } from '@swarmflow/core';

/** Metadata key of {@link RequiresRole}. */
export const REQUIRED_ROLE = 'swarmflow:requiredRole';
/** Metadata key of {@link Public}. */
export const PUBLIC_ROUTE = 'swarmflow:public';

/**
 * The least role a route needs (on a handler or a controller; the handler's wins).
 * A route without it needs `viewer` for GET/HEAD and `admin` for anything else, so a
 * write added without thought is closed to all but admins rather than open.
 */
export const RequiresRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** A route that needs no caller (health, login). Use sparingly: every other route needs one. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
