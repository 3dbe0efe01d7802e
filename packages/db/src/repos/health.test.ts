import { useTestDatabase } from '../../../../test/helpers/db';
import { openDb } from '../client';
import { pingDatabase } from './health';

const t = useTestDatabase();

describe('pingDatabase', () => {
  it('answers when Postgres does, rejects when it does not', async () => {
    await expect(pingDatabase(t.db)).resolves.toBeDefined();
    const nowhere = openDb('postgresql://postgres@127.0.0.1:1/none', { poolSize: 1 });
    try {
      await expect(pingDatabase(nowhere)).rejects.toThrow();
    } finally {
      await nowhere.$disconnect();
    }
  });
});
