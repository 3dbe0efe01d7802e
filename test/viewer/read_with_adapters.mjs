// Reads our SEGs and TID 1500 SR the way OHIF / Cornerstone3D do: with @cornerstonejs/adapters (5.x) and the
// dcmjs it bundles, given the source images' headers through an in-memory metadata provider (as OHIF's
// DicomMetadataStore would give them). Prints one JSON object. Run by test/integration/viewer-adapters.test.ts:
//   node test/viewer/read_with_adapters.mjs SPEC.json
// SPEC: { "sources": [file, ...], "segs": [file, ...], "sr": file }.
//
// @cornerstonejs/adapters 5.14 imports `@babel/runtime/helpers/*` without declaring @babel/runtime (it declares
// @babel/runtime-corejs2, which has the same helpers): a resolve hook maps one onto the other. Nothing else of the
// adapters is changed.
import { register } from 'node:module';
import console from 'node:console';
import process from 'node:process';
import { readFileSync } from 'node:fs';

const HOOKS = `
export async function resolve(specifier, context, next) {
  const m = /^@babel\\/runtime\\/helpers\\/(\\w+)$/.exec(specifier);
  return next(m ? '@babel/runtime-corejs2/helpers/esm/' + m[1] : specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url);

const { adaptersSEG, adaptersSR } = await import('@cornerstonejs/adapters');
const { metaData, utilities } = await import('@cornerstonejs/core');
const { data: dcmjsData } = await import('dcmjs');

// The adapters log through loglevel; keep stdout for the JSON.
console.log = console.info = console.debug = (...args) => process.stderr.write(`${args.join(' ')}\n`);
utilities.logger?.adaptersLog?.setLevel?.('error');

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function readDataset(file) {
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const msg = dcmjsData.DicomMessage.readFile(ab);
  const ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(msg.dict);
  ds._meta = dcmjsData.DicomMetaDictionary.namifyDataset(msg.meta);
  return { ds, ab };
}

// --- the metadata provider: one imageId per source instance, its modules from the header ---
const instances = new Map();
for (const [i, file] of spec.sources.entries()) {
  const { ds } = readDataset(file);
  delete ds.PixelData;
  instances.set(`lumbar:${i}`, ds);
}
const num = (v) => (Array.isArray(v) ? v.map(Number) : v === undefined ? undefined : Number(v));
function provider(type, imageId) {
  const ds = instances.get(imageId);
  if (!ds) return undefined;
  const iop = num(ds.ImageOrientationPatient);
  const spacing = num(ds.PixelSpacing);
  switch (type) {
    case 'instance':
      return ds;
    case 'generalImageModule':
      return { sopInstanceUID: ds.SOPInstanceUID, instanceNumber: Number(ds.InstanceNumber) };
    case 'generalSeriesModule':
      return {
        modality: ds.Modality,
        seriesInstanceUID: ds.SeriesInstanceUID,
        seriesNumber: Number(ds.SeriesNumber),
        studyInstanceUID: ds.StudyInstanceUID,
      };
    case 'imagePlaneModule':
      return {
        frameOfReferenceUID: ds.FrameOfReferenceUID,
        rows: ds.Rows,
        columns: ds.Columns,
        imageOrientationPatient: iop,
        rowCosines: iop.slice(0, 3),
        columnCosines: iop.slice(3, 6),
        imagePositionPatient: num(ds.ImagePositionPatient),
        sliceThickness: num(ds.SliceThickness),
        pixelSpacing: spacing,
        rowPixelSpacing: spacing[0],
        columnPixelSpacing: spacing[1],
      };
    case 'imagePixelModule':
      return {
        samplesPerPixel: ds.SamplesPerPixel,
        photometricInterpretation: ds.PhotometricInterpretation,
        rows: ds.Rows,
        columns: ds.Columns,
        bitsAllocated: ds.BitsAllocated,
        bitsStored: ds.BitsStored,
        highBit: ds.HighBit,
        pixelRepresentation: ds.PixelRepresentation,
      };
    default:
      return undefined;
  }
}
metaData.addProvider(provider, 10000);
const sopOf = (imageId) => instances.get(imageId)?.SOPInstanceUID;
const code = (c) => (c ? [c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning] : null);
const one = (v) => (Array.isArray(v) ? v[0] : v);

// --- SEG: the Cornerstone3D labelmap loader, with the stack of the SEG's referenced series ---
const segs = [];
for (const file of spec.segs) {
  const { ds, ab } = readDataset(file);
  const series = one(ds.ReferencedSeriesSequence).SeriesInstanceUID;
  const stack = [...instances.keys()]
    .filter((id) => instances.get(id).SeriesInstanceUID === series)
    .sort((a, b) => instances.get(a).InstanceNumber - instances.get(b).InstanceNumber);
  const arr = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const out = {
    file,
    sopInstanceUid: ds.SOPInstanceUID,
    referencedSeries: series,
    stack: stack.length,
    // the orientations of the stack the viewer hands the loader (one display set per series)
    stackOrientations: new Set(
      stack.map((id) =>
        num(instances.get(id).ImageOrientationPatient)
          .map((x) => x.toFixed(4))
          .join('\\'),
      ),
    ).size,
    // what dcmjs reads of the SEG itself: segments, and each frame's segment and source image
    header: {
      segments: arr(ds.SegmentSequence).map((x) => [x.SegmentNumber, x.SegmentLabel]),
      frames: arr(ds.PerFrameFunctionalGroupsSequence).map((g) => [
        one(one(g.SegmentIdentificationSequence)?.ReferencedSegmentNumber),
        one(one(one(g.DerivationImageSequence)?.SourceImageSequence)?.ReferencedSOPInstanceUID),
      ]),
    },
  };
  try {
    const res = await adaptersSEG.Cornerstone3D.Segmentation.createFromDICOMSegBuffer(stack, ab, {
      metadataProvider: metaData,
    });
    out.overlapping = res.overlappingSegments;
    out.segmentSeries = res.segMetadata.seriesInstanceUid;
    out.segments = res.segMetadata.data
      .map((s, n) => (s ? { number: n, s } : null))
      .filter(Boolean)
      .map(({ number, s }) => ({
        number,
        label: s.SegmentLabel,
        description: s.SegmentDescription ?? null,
        type: code(one(s.SegmentedPropertyTypeCodeSequence)),
        trackingUid: s.TrackingUID ?? null,
      }));
    // the labelmap: per stack image, the segments and their pixel counts
    const perImage = {};
    for (const layer of res.labelMapImages) {
      for (const img of layer) {
        const vm = img.voxelManager;
        const n = vm ? vm.getScalarDataLength() : img.getPixelData().length;
        const at = vm ? (k) => vm.getAtIndex(k) : (k) => img.getPixelData()[k];
        const counts = {};
        for (let k = 0; k < n; k++) {
          const v = at(k);
          if (v) counts[v] = (counts[v] ?? 0) + 1;
        }
        if (Object.keys(counts).length === 0) continue;
        const sop = sopOf(img.referencedImageId);
        perImage[sop] = { ...(perImage[sop] ?? {}), ...counts };
      }
    }
    out.labelmap = perImage;
    out.segmentsOnFrame = Object.fromEntries(
      res.segmentsOnFrame
        .map((segsOn, i) => (segsOn ? [sopOf(stack[i]), [...new Set(segsOn)].sort()] : null))
        .filter(Boolean),
    );
    out.centroids = Object.fromEntries([...res.centroids.entries()].map(([k, v]) => [k, v]));
  } catch (e) {
    out.error = String(e?.stack ?? e);
  }
  segs.push(out);
}

// --- SR: dcmjs naturalised as OHIF's cornerstone-dicom-sr does, then the adapters' MeasurementReport ---
let sr = null;
if (spec.sr) {
  const { ds } = readDataset(spec.sr);
  // OHIF hands generateToolState the naturalised instance of its metadata store (dcmjs' naturalizeDataset)
  const dataset = ds;
  // keyed as OHIF keys it for these adapters: by SOP Instance UID, and by "<uid>:<frame>" (SCOORD lookups)
  const sopToImageId = Object.fromEntries(
    [...instances.keys()].flatMap((id) => [
      [sopOf(id), id],
      [`${sopOf(id)}:1`, id],
    ]),
  );
  sr = {
    sopInstanceUid: dataset.SOPInstanceUID,
    template: one(dataset.ContentTemplateSequence)?.TemplateIdentifier,
  };
  try {
    const toolState = adaptersSR.Cornerstone3D.MeasurementReport.generateToolState(
      dataset,
      sopToImageId,
      metaData,
    );
    sr.toolState = Object.fromEntries(Object.entries(toolState).map(([k, v]) => [k, v.length]));
    // the closed contours a viewer draws (PlanarFreehandROI): where, how many points, and what they say
    sr.contours = (toolState.PlanarFreehandROI ?? []).map((m) => {
      const contour = m.annotation?.data?.contour ?? {};
      const polyline = contour.polyline ?? [];
      return {
        sopInstanceUid: sopOf(m.annotation?.metadata?.referencedImageId) ?? null,
        closed: contour.closed === true,
        points: polyline.length,
        // world coordinates (mm): their spread along the image plane's normal must be ~0
        world: polyline.map((p) => [...p]),
        trackingUid: m.TrackingUniqueIdentifier ?? null,
        finding: code(m.finding),
        findingSites: (m.findingSites ?? []).map(code),
      };
    });
  } catch (e) {
    sr.toolStateError = String(e?.message ?? e);
  }
  // The same walk generateToolState starts with: "Imaging Measurements" > "Measurement Group" by CodeMeaning.
  const arr = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const meaning = (m) => (item) => one(item.ConceptNameCodeSequence)?.CodeMeaning === m;
  const imaging = arr(dataset.ContentSequence).find(meaning('Imaging Measurements'));
  const groups = arr(imaging?.ContentSequence).filter(meaning('Measurement Group'));
  const MR = adaptersSR.Cornerstone3D.MeasurementReport;
  const images = (items) =>
    items.flatMap((i) => [
      ...(i.ValueType === 'IMAGE' ? arr(i.ReferencedSOPSequence).map((r) => r.ReferencedSOPInstanceUID) : []),
      ...images(arr(i.ContentSequence)),
    ]);
  // the lookup generateToolState makes per group: by tracking identifier, else by the group's SCOORD graphic
  const adapterOf = (g, trackingId) => {
    try {
      return (
        (MR.getAdapterForTrackingIdentifier(trackingId) ?? MR.getAdapterForCodeType(g))?.toolType ?? null
      );
    } catch (e) {
      return `error: ${e.message}`;
    }
  };
  sr.groups = groups.map((g) => {
    const items = arr(g.ContentSequence);
    const find = (m) => items.find(meaning(m));
    const segItem = items.find((i) => i.ValueType === 'IMAGE' && meaning('Referenced Segment')(i));
    const segRef = segItem ? one(segItem.ReferencedSOPSequence) : null;
    return {
      trackingId: find('Tracking Identifier')?.TextValue ?? null,
      trackingUid: find('Tracking Unique Identifier')?.UID ?? null,
      finding: code(
        one(
          items.find((i) => MR.codeValueMatch(i, { CodingSchemeDesignator: 'DCM', CodeValue: '121071' }))
            ?.ConceptCodeSequence,
        ),
      ),
      findingSites: items
        .filter((i) => MR.codeValueMatch(i, { CodingSchemeDesignator: 'SCT', CodeValue: '363698007' }))
        .map((i) => code(one(i.ConceptCodeSequence))),
      segment: segRef
        ? {
            sopInstanceUid: segRef.ReferencedSOPInstanceUID,
            segmentNumber: Number(one(segRef.ReferencedSegmentNumber)),
          }
        : null,
      images: [...new Set(images(items))],
      numbers: items.filter((i) => i.ValueType === 'NUM').length,
      scoords: items.filter((i) => i.ValueType === 'SCOORD' || i.ValueType === 'SCOORD3D').length,
      adapter: adapterOf(g, find('Tracking Identifier')?.TextValue ?? ''),
    };
  });
}

process.stdout.write(`${JSON.stringify({ segs, sr })}\n`);
process.exit(0);
