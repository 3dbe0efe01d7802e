// Synthetic source images for the writers' unit tests (excluded from the build).
import type { ImagePlane, Vec3 } from '../geometry';
import type { SourceImage } from '../source-image';

export interface FakeSeriesOptions {
  series: string;
  count: number;
  rows?: number;
  columns?: number;
  /** Sagittal (rows along -z, columns along +y) or axial (columns along +x, rows along +y). */
  view?: 'sagittal' | 'axial';
  study?: string;
  frameOfReference?: string;
  patientName?: string;
}

/** `count` single-frame MR images of one series, 1 mm apart along the slice normal. */
export function fakeSeries(o: FakeSeriesOptions): SourceImage[] {
  const rows = o.rows ?? 4;
  const columns = o.columns ?? 5;
  const [row, col]: [Vec3, Vec3] =
    o.view === 'axial'
      ? [
          [1, 0, 0],
          [0, 1, 0],
        ]
      : [
          [0, 1, 0],
          [0, 0, -1],
        ];
  return Array.from({ length: o.count }, (_, i) => {
    const position: Vec3 = o.view === 'axial' ? [0, 0, -i] : [i, 0, 0];
    const plane: ImagePlane = { position, row, col, spacing: [0.5, 0.5], rows, columns };
    return {
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      sopInstanceUid: `${o.series}.${i + 1}`,
      seriesInstanceUid: o.series,
      studyInstanceUid: o.study ?? '2.25.1',
      frameOfReferenceUid: o.frameOfReference ?? '2.25.2',
      modality: 'MR',
      rows,
      columns,
      frames: 1,
      planes: [plane],
      sliceThickness: 3,
      patientStudy: {
        StudyInstanceUID: o.study ?? '2.25.1',
        PatientName: o.patientName ?? 'PHANTOM^TEST',
        PatientID: 'P1',
        PatientBirthDate: '19800101',
        PatientSex: 'F',
        StudyDate: '20260101',
        StudyTime: '120000',
        ReferringPhysicianName: '',
        StudyID: '1',
        AccessionNumber: 'A1',
      },
    };
  });
}

/** A label map of a source's size with `label` on the pixels listed (row-major indices). */
export function labels(src: SourceImage, label: number, pixels: number[]) {
  const data = new Uint8Array(src.rows * src.columns);
  for (const p of pixels) data[p] = label;
  return { width: src.columns, height: src.rows, data };
}
