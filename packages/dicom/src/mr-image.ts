import { ALGORITHM } from '@lumbar/core';
import { ImagePlane, planeNormal } from './geometry';
import { Dataset, MR_IMAGE_STORAGE, da, ds, tm } from './write';

export interface PatientStudy {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: 'M' | 'F' | 'O';
  patientAge?: string;
  patientWeightKg?: number;
  patientSizeM?: number;
  studyInstanceUid: string;
  studyId: string;
  accessionNumber: string;
  studyDescription: string;
  studyDateTime: Date;
  frameOfReferenceUid: string;
  institutionName: string;
  manufacturer: string;
  modelName: string;
  deviceSerialNumber: string;
  magneticFieldStrength: number;
}

export interface MrSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  protocolName: string;
  seriesDateTime: Date;
  imageType: readonly string[];
  scanningSequence: string; // SE, GR, IR, ...
  sequenceVariant: string; // SK, SP, NONE, ...
  scanOptions: string;
  mrAcquisitionType: '2D' | '3D';
  sequenceName: string;
  repetitionTime: number;
  echoTime: number;
  echoTrainLength: number;
  flipAngle: number;
  sliceThickness: number;
  spacingBetweenSlices?: number;
  pixelBandwidth: number;
}

export interface MrInstance {
  sopInstanceUid: string;
  instanceNumber: number;
  plane: ImagePlane;
  pixels: Uint16Array; // rows * columns, row-major
  windowCenter: number;
  windowWidth: number;
}

/** Builds an MR Image Storage dataset (16-bit unsigned MONOCHROME2) for one slice. */
export function mrImageDataset(study: PatientStudy, series: MrSeries, inst: MrInstance): Dataset {
  const { plane } = inst;
  if (inst.pixels.length !== plane.rows * plane.columns) {
    throw new Error(
      `mrImageDataset: ${inst.pixels.length} pixels for a ${plane.rows}x${plane.columns} image`,
    );
  }
  const n = planeNormal(plane);
  const sliceLocation = n[0] * plane.position[0] + n[1] * plane.position[1] + n[2] * plane.position[2];
  let max = 0;
  for (let i = 0; i < inst.pixels.length; i++) if (inst.pixels[i] > max) max = inst.pixels[i];
  const d = series.seriesDateTime;
  return {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: [...series.imageType],
    InstanceCreationDate: da(d),
    InstanceCreationTime: tm(d),
    SOPClassUID: MR_IMAGE_STORAGE,
    SOPInstanceUID: inst.sopInstanceUid,
    StudyDate: da(study.studyDateTime),
    SeriesDate: da(d),
    AcquisitionDate: da(d),
    ContentDate: da(d),
    StudyTime: tm(study.studyDateTime),
    SeriesTime: tm(d),
    AcquisitionTime: tm(d),
    ContentTime: tm(d),
    AccessionNumber: study.accessionNumber,
    Modality: 'MR',
    Manufacturer: study.manufacturer,
    InstitutionName: study.institutionName,
    ReferringPhysicianName: '',
    StationName: 'PHANTOM',
    StudyDescription: study.studyDescription,
    SeriesDescription: series.seriesDescription,
    ManufacturerModelName: study.modelName,
    PatientName: study.patientName,
    PatientID: study.patientId,
    PatientBirthDate: study.patientBirthDate,
    PatientSex: study.patientSex,
    ...(study.patientAge ? { PatientAge: study.patientAge } : {}),
    ...(study.patientSizeM ? { PatientSize: ds(study.patientSizeM) } : {}),
    ...(study.patientWeightKg ? { PatientWeight: ds(study.patientWeightKg) } : {}),
    PatientIdentityRemoved: 'YES',
    DeidentificationMethod: 'Synthetic phantom: no real patient',
    BodyPartExamined: 'LSPINE',
    ScanningSequence: series.scanningSequence,
    SequenceVariant: series.sequenceVariant,
    ScanOptions: series.scanOptions,
    MRAcquisitionType: series.mrAcquisitionType,
    SequenceName: series.sequenceName,
    SliceThickness: ds(series.sliceThickness),
    RepetitionTime: ds(series.repetitionTime),
    EchoTime: ds(series.echoTime),
    NumberOfAverages: '1',
    ImagingFrequency: ds(series.repetitionTime > 0 ? 42.577478 * study.magneticFieldStrength : 0),
    ImagedNucleus: '1H',
    EchoNumbers: '1',
    MagneticFieldStrength: ds(study.magneticFieldStrength),
    ...(series.spacingBetweenSlices ? { SpacingBetweenSlices: ds(series.spacingBetweenSlices) } : {}),
    EchoTrainLength: String(series.echoTrainLength),
    PixelBandwidth: ds(series.pixelBandwidth),
    DeviceSerialNumber: study.deviceSerialNumber,
    SoftwareVersions: `${ALGORITHM.name} phantom ${ALGORITHM.version}`,
    ProtocolName: series.protocolName,
    FlipAngle: ds(series.flipAngle),
    PatientPosition: 'HFS',
    StudyInstanceUID: study.studyInstanceUid,
    SeriesInstanceUID: series.seriesInstanceUid,
    StudyID: study.studyId,
    SeriesNumber: String(series.seriesNumber),
    AcquisitionNumber: '1',
    InstanceNumber: String(inst.instanceNumber),
    ImagePositionPatient: plane.position.map(ds),
    ImageOrientationPatient: [...plane.row, ...plane.col].map(ds),
    FrameOfReferenceUID: study.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    SliceLocation: ds(sliceLocation),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: plane.rows,
    Columns: plane.columns,
    PixelSpacing: plane.spacing.map(ds),
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    SmallestImagePixelValue: 0,
    LargestImagePixelValue: max,
    WindowCenter: ds(inst.windowCenter),
    WindowWidth: ds(inst.windowWidth),
    PixelData: [
      inst.pixels.buffer.slice(inst.pixels.byteOffset, inst.pixels.byteOffset + inst.pixels.byteLength),
    ],
    _vrMap: { PixelData: 'OW', SmallestImagePixelValue: 'US', LargestImagePixelValue: 'US' },
  };
}
