import { labelComponents } from './components';

function mask(rows: string[]) {
  const height = rows.length;
  const width = rows[0].length;
  const data = Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0));
  return { width, height, data };
}

describe('labelComponents', () => {
  it('joins diagonal neighbours (8-connectivity) and reports area, inclusive box and mean row', () => {
    const { components, labels } = labelComponents(mask(['#...', '.#..', '..#.', '....']));
    expect(components).toEqual([{ label: 1, area: 3, x0: 0, y0: 0, x1: 2, y1: 2, cy: 1 }]);
    expect(labels[5]).toBe(1);
    expect(labels[3]).toBe(0);
  });

  it('merges a U shape seen as two branches first', () => {
    const { components } = labelComponents(mask(['#.#', '#.#', '###']));
    expect(components).toHaveLength(1);
    expect(components[0].area).toBe(7);
  });

  it("numbers components in OpenCV's 2x2-block scan order, not plain raster order", () => {
    // The pixel at (x=0, y=1) lies in block (0, 0), scanned before the block of (x=5, y=0).
    const m = mask(['.....#', '#.....']);
    const { components, labels } = labelComponents(m);
    expect(components.map((c) => [c.x0, c.y0])).toEqual([
      [0, 1],
      [5, 0],
    ]);
    expect(labels[6]).toBe(1);
    expect(labels[5]).toBe(2);
  });

  it('handles empty, full and one-pixel masks', () => {
    expect(labelComponents(mask(['...'])).components).toEqual([]);
    expect(labelComponents(mask(['##', '##'])).components).toEqual([
      { label: 1, area: 4, x0: 0, y0: 0, x1: 1, y1: 1, cy: 0.5 },
    ]);
    expect(labelComponents(mask(['#'])).components).toHaveLength(1);
    expect(labelComponents({ width: 0, height: 0, data: new Uint8Array(0) }).components).toEqual([]);
  });

  it('counts a checkerboard of isolated pixels as one component (diagonals touch)', () => {
    expect(labelComponents(mask(['#.#.', '.#.#', '#.#.'])).components).toHaveLength(1);
    expect(labelComponents(mask(['#.#.#', '.....', '#.#.#'])).components).toHaveLength(6);
  });
});
