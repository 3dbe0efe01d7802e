import { Code, codeItem } from './codes';
import { Dataset, ds } from './write';

/** SR content items (PS3.3 C.17.3), as naturalized datasets: small builders for the SR writers. */

export type Relationship =
  | 'CONTAINS'
  | 'HAS OBS CONTEXT'
  | 'HAS CONCEPT MOD'
  | 'HAS ACQ CONTEXT'
  | 'HAS PROPERTIES'
  | 'INFERRED FROM'
  | 'SELECTED FROM';

const named = (rel: Relationship | null, valueType: string, name: Code): Dataset => ({
  ...(rel ? { RelationshipType: rel } : {}),
  ValueType: valueType,
  ConceptNameCodeSequence: [codeItem(name)],
});

export function container(
  rel: Relationship | null,
  name: Code,
  children: Dataset[],
  template?: string,
): Dataset {
  return {
    ...named(rel, 'CONTAINER', name),
    ContinuityOfContent: 'SEPARATE',
    ...(template
      ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: template }] }
      : {}),
    ...(children.length ? { ContentSequence: children } : {}),
  };
}

export function textItem(rel: Relationship, name: Code, value: string): Dataset {
  return { ...named(rel, 'TEXT', name), TextValue: value };
}

export function codeValueItem(rel: Relationship, name: Code, value: Code): Dataset {
  return { ...named(rel, 'CODE', name), ConceptCodeSequence: [codeItem(value)] };
}

export function uidItem(rel: Relationship, name: Code, uid: string): Dataset {
  return { ...named(rel, 'UIDREF', name), UID: uid };
}

export function numItem(
  rel: Relationship,
  name: Code,
  value: number,
  unit: Code,
  children: Dataset[] = [],
): Dataset {
  return {
    ...named(rel, 'NUM', name),
    MeasuredValueSequence: [{ MeasurementUnitsCodeSequence: [codeItem(unit)], NumericValue: ds(value) }],
    ...(children.length ? { ContentSequence: children } : {}),
  };
}

/** An IMAGE item referencing one instance (and frame, or segment of a SEG). */
export function imageItem(
  rel: Relationship,
  name: Code,
  ref: { sopClassUid: string; sopInstanceUid: string; frameNumber?: number; segmentNumber?: number },
  children: Dataset[] = [],
): Dataset {
  return {
    ...named(rel, 'IMAGE', name),
    ReferencedSOPSequence: [
      {
        ReferencedSOPClassUID: ref.sopClassUid,
        ReferencedSOPInstanceUID: ref.sopInstanceUid,
        ...(ref.frameNumber !== undefined ? { ReferencedFrameNumber: String(ref.frameNumber) } : {}),
        ...(ref.segmentNumber !== undefined ? { ReferencedSegmentNumber: ref.segmentNumber } : {}),
      },
    ],
    ...(children.length ? { ContentSequence: children } : {}),
  };
}

/**
 * A SCOORD item (PS3.3 C.18.6): a closed or open POLYLINE in the image's pixel coordinates (column, row;
 * (0,0) is the top left corner of the top left pixel), SELECTED FROM the image (and frame) it lies on.
 */
export function scoordItem(
  rel: Relationship,
  name: Code,
  points: readonly number[],
  image: { sopClassUid: string; sopInstanceUid: string; frameNumber?: number },
): Dataset {
  if (points.length < 4 || points.length % 2) throw new Error('a POLYLINE needs at least two (x, y) points');
  const { ConceptNameCodeSequence: _none, ...selected } = imageItem('SELECTED FROM', name, image);
  return {
    ...named(rel, 'SCOORD', name),
    GraphicType: 'POLYLINE',
    GraphicData: points.map((v) => Math.round(v * 100) / 100),
    ContentSequence: [selected],
  };
}
