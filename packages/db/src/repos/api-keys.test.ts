import { useTestDatabase } from '../../../../test/helpers/db';
import { createApiKey, findApiKeyScopes, revokeApiKey } from './api-keys';

const t = useTestDatabase();

describe('findApiKeyScopes', () => {
  it('gives the scopes of a key by its prefix, whatever its state; null for an unknown prefix', async () => {
    await createApiKey(t.db, ['read', 'admin'], 'ops', `lk_abcd1234_${'s'.repeat(32)}`);
    expect(await findApiKeyScopes(t.db, 'abcd1234')).toEqual({ scopes: ['read', 'admin'] });
    await revokeApiKey(t.db, 'abcd1234', 'test');
    expect(await findApiKeyScopes(t.db, 'abcd1234')).toEqual({ scopes: ['read', 'admin'] });
    expect(await findApiKeyScopes(t.db, 'zzzz9999')).toBeNull();
  });
});
