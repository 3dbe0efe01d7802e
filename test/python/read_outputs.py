"""Reads lumbar-ai's DICOM outputs with highdicom and pydicom and prints what they say as JSON.

Usage: training/.venv/bin/python test/python/read_outputs.py FILE.dcm [FILE.dcm ...]

A SEG is read with highdicom.seg.segread, an SR with highdicom.sr.srread (TID 1500 measurement groups
through highdicom's own parser: the level groups and the sagittal grader's grading groups, with their
measurements, measurement methods, qualitative evaluations, algorithm and comment), anything else with
pydicom. test/integration/dicom-outputs.test.ts
compares the result with findings.json. Read-only: it writes nothing.
"""

import json
import sys

import highdicom as hd
import pydicom


def code(c):
    return None if c is None else [c.value, c.scheme_designator, c.meaning]


def read_seg(path):
    seg = hd.seg.segread(path)
    segments = []
    for number in seg.segment_numbers:
        d = seg.get_segment_description(number)
        algo = d.algorithm_identification
        segments.append(
            {
                "number": int(d.segment_number),
                "label": d.segment_label,
                "category": code(d.segmented_property_category),
                "type": code(d.segmented_property_type),
                "algorithmType": d.algorithm_type.value,
                "algorithmName": algo[0].AlgorithmName if algo else None,
                "algorithmVersion": algo[0].AlgorithmVersion if algo else None,
                "trackingUid": d.tracking_uid,
            }
        )
    refs = set()
    for item in seg.PerFrameFunctionalGroupsSequence:
        for der in item.DerivationImageSequence:
            for src in der.SourceImageSequence:
                refs.add(src.ReferencedSOPInstanceUID)
    return {
        "file": path,
        "sopInstanceUid": seg.SOPInstanceUID,
        "seriesInstanceUid": seg.SeriesInstanceUID,
        "studyInstanceUid": seg.StudyInstanceUID,
        "frameOfReferenceUid": seg.FrameOfReferenceUID,
        "frames": int(seg.NumberOfFrames),
        "segments": segments,
        "sourceInstances": sorted(refs),
    }


def root_texts(ds):
    """TEXT items of the root Qualitative Evaluations container (not exposed by highdicom)."""
    out = {}
    for item in ds.ContentSequence:
        name = item.ConceptNameCodeSequence[0]
        if item.ValueType == "CONTAINER" and name.CodeValue == "C0034375":
            for child in item.ContentSequence:
                out[child.ConceptNameCodeSequence[0].CodeMeaning] = child.TextValue
    return out


def texts_of(item, code_value):
    """Values of the TEXT children of a content item with this concept name (a DCM code value)."""
    return [
        c.value
        for c in hd.sr.utils.find_content_items(item, value_type=hd.sr.ValueTypeValues.TEXT)
        if c.name.value == code_value and c.name.scheme_designator == "DCM"
    ]


def algorithm_json(item):
    """TID 4019 Algorithm Identification among the children of a group (not exposed by highdicom)."""
    names, versions = texts_of(item, "111001"), texts_of(item, "111003")
    return {"name": names[0], "version": versions[0]} if names and versions else None


def group_json(g, template):
    seg = None
    if template == "1411" and g.referenced_segment is not None:
        ref = g.referenced_segment
        seg = {
            "sopInstanceUid": ref[0].referenced_sop_instance_uid,
            "segmentNumber": int(ref[0].referenced_segment_numbers[0]),
            "sourceImages": len(ref) - 1,
        }
    return {
        "template": template,
        "trackingId": g.tracking_identifier,
        "trackingUid": g.tracking_uid,
        "finding": code(g.finding_type),
        "findingSites": [code(s.value) for s in g.finding_sites],
        "evaluations": [[code(q.name), code(q.value)] for q in g.get_qualitative_evaluations()],
        "measurements": [
            {
                "name": code(m.name),
                "value": float(m.value),
                "unit": code(m.unit),
                "method": code(m.method),
                "sources": len(m.referenced_images),
            }
            for m in g.get_measurements()
        ],
        "algorithm": algorithm_json(g[0]),
        "comments": texts_of(g[0], "121106"),
        "segment": seg,
    }


def read_sr(path):
    sr = hd.sr.srread(path)
    report = sr.content
    groups = [group_json(g, "1411") for g in report.get_volumetric_roi_measurement_groups()]
    groups += [group_json(g, "1501") for g in report.get_image_measurement_groups()]
    observers = report.get_observer_contexts()
    root = sr.ContentSequence
    procedure = [
        code(hd.sr.CodedConcept.from_dataset(i.ConceptCodeSequence[0]))
        for i in root
        if i.ConceptNameCodeSequence[0].CodeValue == "121058"
    ]
    return {
        "file": path,
        "sopClassUid": sr.SOPClassUID,
        "sopInstanceUid": sr.SOPInstanceUID,
        "studyInstanceUid": sr.StudyInstanceUID,
        "title": code(hd.sr.CodedConcept.from_dataset(sr.ConceptNameCodeSequence[0])),
        "observers": [o.observer_identifying_attributes.name for o in observers],
        "procedure": procedure,
        "groups": groups,
        "texts": root_texts(sr),
    }


def read_other(path):
    ds = pydicom.dcmread(path)
    return {
        "file": path,
        "sopClassUid": ds.SOPClassUID,
        "sopInstanceUid": ds.SOPInstanceUID,
        "studyInstanceUid": ds.StudyInstanceUID,
        "modality": ds.Modality,
        "shape": list(ds.pixel_array.shape),
        "comments": str(ds.get("ImageComments", "")),
    }


def main(paths):
    out = {"segs": [], "srs": [], "others": []}
    for path in paths:
        sop_class = pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID
        if sop_class == "1.2.840.10008.5.1.4.1.1.66.4":
            out["segs"].append(read_seg(path))
        elif sop_class.startswith("1.2.840.10008.5.1.4.1.1.88."):
            out["srs"].append(read_sr(path))
        else:
            out["others"].append(read_other(path))
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
