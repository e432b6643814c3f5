"""The XMP schemas PDF/A-2 and -3 predefine, with each property's value type.

ISO 19005-2, 6.6.2.3.1 allows in XMP only the schemas "predefined in the XMP Specification"
(Adobe, September 2005, which PDF/A-2 and -3 cite), ISO 19005's own (pdfaid and the extension
schema container), and extension schemas the file itself declares. These tables are the
properties of XMP 2005 Part 2 (Dublin Core, XMP basic, rights, media management, basic job,
paged-text, Dynamic Media, Adobe PDF, Photoshop, Camera Raw, TIFF, EXIF and its aux schema), read
as veraPDF reads them, since veraPDF is what the PDF/A community measures conformance with:

* properties added to XMP after 2005 are not predefined (xmpMM:OriginalDocumentID, pdf:Trapped,
  photoshop:ColorMode, photoshop:ICCProfile, photoshop:History, photoshop:DocumentAncestors...);
* ``pdfuaid`` (PDF/UA, 2012) is not predefined either: a PDF/A-2 file that uses it must declare it
  in an extension schema, as PDF/UA writers do;
* URI, URL, XPath and Locale values are checked as plain text (URIs: the PDF/A Technical Working
  Group's reading; locales: veraPDF accepts a dc:language item that is not an RFC 3066 tag).

A value type is written as in the XMP specification and PDF/A extension schemas: a simple type
(``Text``, ``Integer``, ``Date``...), ``Lang Alt``, an array of a type (``Bag ProperName``,
``Seq Date``) or a structured type (``ResourceEvent``), whose fields are in ``STRUCTS``.
"""

from __future__ import annotations

import re

NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "xmpBJ": "http://ns.adobe.com/xap/1.0/bj/",
    "xmpTPg": "http://ns.adobe.com/xap/1.0/t/pg/",
    "xmpDM": "http://ns.adobe.com/xmp/1.0/DynamicMedia/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "xmpGImg": "http://ns.adobe.com/xap/1.0/g/img/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "stRef": "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "stVer": "http://ns.adobe.com/xap/1.0/sType/Version#",
    "stJob": "http://ns.adobe.com/xap/1.0/sType/Job#",
    "stFnt": "http://ns.adobe.com/xap/1.0/sType/Font#",
    "xmpG": "http://ns.adobe.com/xap/1.0/g/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "pdfaType": "http://www.aiim.org/pdfa/ns/type#",
    "pdfaField": "http://www.aiim.org/pdfa/ns/field#",
}


def _table(text: str) -> dict[str, str]:
    """'Name: Type; Name: Type' -> {name: type}."""
    pairs = (item.split(":", 1) for item in text.split(";") if item.strip())
    return {name.strip(): kind.strip() for name, kind in pairs}


_REAL_0_100 = r"[+]?(\d{1,2}(\.\d*)?|\d{0,2}\.\d+|100(\.0*)?)"
_INT_0_255 = r"[+]?([01]?\d{1,2}|2[0-4]\d|25[0-5])"
_INT_LAB = r"([+-]?0?\d{1,2}|[+-]?1[01]\d|[+-]?12[0-7]|-128)"

# Closed choices: the values a property or field may take, as a regular expression (full match).
CLOSED: dict[tuple[str, str], str] = {
    (NS["pdfaid"], "conformance"): r"[ABU]",
    (NS["tiff"], "Compression"): r"[16]", (NS["tiff"], "PhotometricInterpretation"): r"[26]",
    (NS["tiff"], "Orientation"): r"[1-8]", (NS["tiff"], "PlanarConfiguration"): r"[12]",
    (NS["tiff"], "YCbCrPositioning"): r"[12]", (NS["tiff"], "ResolutionUnit"): r"[23]",
    (NS["exif"], "ExposureProgram"): r"[0-8]", (NS["exif"], "MeteringMode"): r"[0-6]|255",
    (NS["exif"], "FocalPlaneResolutionUnit"): r"[23]", (NS["exif"], "SensingMethod"): r"[1-8]",
    (NS["exif"], "FileSource"): r"3", (NS["exif"], "SceneType"): r"1", (NS["exif"], "CustomRendered"): r"[01]",
    (NS["exif"], "ExposureMode"): r"[0-2]", (NS["exif"], "WhiteBalance"): r"[01]",
    (NS["exif"], "SceneCaptureType"): r"[0-3]", (NS["exif"], "GainControl"): r"[0-4]",
    (NS["exif"], "Contrast"): r"[0-2]", (NS["exif"], "Saturation"): r"[0-2]", (NS["exif"], "Sharpness"): r"[0-2]",
    (NS["exif"], "SubjectDistanceRange"): r"[0-3]", (NS["exif"], "GPSAltitudeRef"): r"[01]",
    (NS["exif"], "GPSStatus"): r"[AV]", (NS["exif"], "GPSSpeedRef"): r"[KMN]", (NS["exif"], "GPSTrackRef"): r"[TM]",
    (NS["exif"], "GPSImgDirectionRef"): r"[TM]", (NS["exif"], "GPSDestBearingRef"): r"[TM]",
    (NS["exif"], "GPSDestDistanceRef"): r"[KMN]", (NS["exif"], "GPSDifferential"): r"[01]",
    (NS["exif"], "ColorSpace"): r"1|65535",
    (NS["exif"], "LightSource"): r"[0-4]|9|1[0-5]|1[7-9]|2[0-4]|255",
    (NS["xmpDM"], "videoPixelDepth"): r"8Int|16Int|32Int|32Float",
    (NS["xmpDM"], "videoColorSpace"): r"sRGB|CCIR-601|CCIR-709",
    (NS["xmpDM"], "videoAlphaMode"): r"straight|pre-multiplied",
    (NS["xmpDM"], "videoFieldOrder"): r"Upper|Lower|Progressive",
    (NS["xmpDM"], "pullDown"): r"(WSSWW|SSWWW|SWWWS|WWWSS|WWSSW)(_24p)?",
    (NS["xmpDM"], "audioSampleType"): r"8Int|16Int|32Int|32Float",
    (NS["xmpDM"], "audioChannelType"): r"Mono|Stereo|5\.1|7\.1",
    (NS["xmpDM"], "key"): r"[ACDFG]#?|[BE]",
    (NS["xmpDM"], "stretchMode"): r"Fixed length|Time-Scale|Resample|Beat Splice|Hybrid",
    (NS["xmpDM"], "timeSignature"): r"[2-57]/4|[69]/8|12/8|other",
    (NS["xmpDM"], "scaleType"): r"Major|Minor|Both|Neither",
    (NS["crs"], "WhiteBalance"): r"As Shot|Auto|Daylight|Cloudy|Shade|Tungsten|Fluorescent|Flash|Custom",
    # fields of structured types
    (NS["xmpG"], "mode"): r"CMYK|RGB|LAB", (NS["xmpG"], "type"): r"PROCESS|SPOT",
    (NS["xmpG"], "cyan"): _REAL_0_100, (NS["xmpG"], "magenta"): _REAL_0_100, (NS["xmpG"], "yellow"): _REAL_0_100,
    (NS["xmpG"], "black"): _REAL_0_100, (NS["xmpG"], "L"): _REAL_0_100, (NS["xmpG"], "red"): _INT_0_255,
    (NS["xmpG"], "green"): _INT_0_255, (NS["xmpG"], "blue"): _INT_0_255, (NS["xmpG"], "A"): _INT_LAB,
    (NS["xmpG"], "B"): _INT_LAB,
    (NS["xmpGImg"], "format"): r"JPEG",
    (NS["exif"], "Return"): r"[023]", (NS["exif"], "Mode"): r"[0-3]",
    (NS["xmpDM"], "timeValue"): r"\d{2}((:\d{2}){3}|(;\d{2}){3})",
    (NS["xmpDM"], "timeFormat"): r"(24|25|2997Drop|2997NonDrop|30|50|5994Drop|5994NonDrop|60|23976)Timecode",
    (NS["xmpDM"], "quality"): r"High|Medium|Low",
}
# Closed choices of whole arrays: (ns, name) -> the allowed item sequences.
CLOSED_SEQS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    (NS["tiff"], "YCbCrSubSampling"): (("2", "1"), ("2", "2")),
    (NS["exif"], "ComponentsConfiguration"): (("4", "5", "6", "0"), ("1", "2", "3", "0")),
}
SEQ_PATTERNS: dict[tuple[str, str], str] = {(NS["crs"], "ToneCurve"): r"\([+-]?\d+, [+-]?\d+\)"}

PREDEFINED: dict[str, dict[str, str]] = {
    NS["pdfaid"]: _table("part: Integer; amd: Text; corr: Text; conformance: Text"),
    NS["dc"]: _table(
        "contributor: Bag ProperName; coverage: Text; creator: Seq ProperName; date: Seq Date; "
        "description: Lang Alt; format: MIMEType; identifier: Text; language: Bag Locale; "
        "publisher: Bag ProperName; relation: Bag Text; rights: Lang Alt; source: Text; subject: Bag Text; "
        "title: Lang Alt; type: Bag Text"),
    NS["xmp"]: _table(
        "Advisory: Bag Text; BaseURL: URL; CreateDate: Date; CreatorTool: AgentName; Identifier: Bag Text; "
        "Label: Text; MetadataDate: Date; ModifyDate: Date; Nickname: Text; Rating: Real; "
        "Thumbnails: Alt Thumbnail"),
    NS["xmpRights"]: _table(
        "Certificate: URL; Marked: Boolean; Owner: Bag ProperName; UsageTerms: Lang Alt; WebStatement: URL"),
    NS["xmpMM"]: _table(
        "DerivedFrom: ResourceRef; DocumentID: URI; History: Seq ResourceEvent; InstanceID: URI; "
        "ManagedFrom: ResourceRef; Manager: AgentName; ManageTo: URI; ManageUI: URI; ManagerVariant: Text; "
        "RenditionClass: RenditionClass; RenditionParams: Text; VersionID: Text; Versions: Seq Version; "
        "LastURL: URL; RenditionOf: ResourceRef; SaveID: Integer"),
    NS["xmpBJ"]: _table("JobRef: Bag Job"),
    NS["xmpTPg"]: _table("MaxPageSize: Dimensions; NPages: Integer; Fonts: Bag Font; Colorants: Seq Colorant; "
                         "PlateNames: Seq Text"),
    NS["pdf"]: _table("Keywords: Text; PDFVersion: Text; Producer: AgentName"),
    NS["photoshop"]: _table(
        "AuthorsPosition: Text; CaptionWriter: ProperName; Category: Text; City: Text; Country: Text; "
        "Credit: Text; DateCreated: Date; Headline: Text; Instructions: Text; Source: Text; State: Text; "
        "SupplementalCategories: Bag Text; TransmissionReference: Text; Urgency: Integer"),
    NS["tiff"]: _table(
        "ImageWidth: Integer; ImageLength: Integer; BitsPerSample: Seq Integer; Compression: Integer; "
        "PhotometricInterpretation: Integer; Orientation: Integer; SamplesPerPixel: Integer; "
        "PlanarConfiguration: Integer; YCbCrSubSampling: Seq Integer; YCbCrPositioning: Integer; "
        "XResolution: Rational; YResolution: Rational; ResolutionUnit: Integer; TransferFunction: Seq Integer; "
        "WhitePoint: Seq Rational; PrimaryChromaticities: Seq Rational; YCbCrCoefficients: Seq Rational; "
        "ReferenceBlackWhite: Seq Rational; DateTime: Date; ImageDescription: Lang Alt; Make: ProperName; "
        "Model: ProperName; Software: AgentName; Artist: ProperName; Copyright: Lang Alt"),
    NS["exif"]: _table(
        "ExifVersion: Text; FlashpixVersion: Text; ColorSpace: Integer; ComponentsConfiguration: Seq Integer; "
        "CompressedBitsPerPixel: Rational; PixelXDimension: Integer; PixelYDimension: Integer; "
        "UserComment: Lang Alt; RelatedSoundFile: Text; DateTimeOriginal: Date; DateTimeDigitized: Date; "
        "ExposureTime: Rational; FNumber: Rational; ExposureProgram: Integer; SpectralSensitivity: Text; "
        "ISOSpeedRatings: Seq Integer; OECF: OECF/SFR; ShutterSpeedValue: Rational; ApertureValue: Rational; "
        "BrightnessValue: Rational; ExposureBiasValue: Rational; MaxApertureValue: Rational; "
        "SubjectDistance: Rational; MeteringMode: Integer; LightSource: Integer; Flash: Flash; "
        "FocalLength: Rational; SubjectArea: Seq Integer; FlashEnergy: Rational; "
        "SpatialFrequencyResponse: OECF/SFR; FocalPlaneXResolution: Rational; FocalPlaneYResolution: Rational; "
        "FocalPlaneResolutionUnit: Integer; SubjectLocation: Seq Integer; ExposureIndex: Rational; "
        "SensingMethod: Integer; FileSource: Integer; SceneType: Integer; CFAPattern: CFAPattern; "
        "CustomRendered: Integer; ExposureMode: Integer; WhiteBalance: Integer; DigitalZoomRatio: Rational; "
        "FocalLengthIn35mmFilm: Integer; SceneCaptureType: Integer; GainControl: Integer; Contrast: Integer; "
        "Saturation: Integer; Sharpness: Integer; DeviceSettingDescription: DeviceSettings; "
        "SubjectDistanceRange: Integer; ImageUniqueID: Text; GPSVersionID: Text; GPSLatitude: GPSCoordinate; "
        "GPSLongitude: GPSCoordinate; GPSAltitudeRef: Integer; GPSAltitude: Rational; GPSTimeStamp: Date; "
        "GPSSatellites: Text; GPSStatus: Text; GPSMeasureMode: Text; GPSDOP: Rational; GPSSpeedRef: Text; "
        "GPSSpeed: Rational; GPSTrackRef: Text; GPSTrack: Rational; GPSImgDirectionRef: Text; "
        "GPSImgDirection: Rational; GPSMapDatum: Text; GPSDestLatitude: GPSCoordinate; "
        "GPSDestLongitude: GPSCoordinate; GPSDestBearingRef: Text; GPSDestBearing: Rational; "
        "GPSDestDistanceRef: Text; GPSDestDistance: Rational; GPSProcessingMethod: Text; "
        "GPSAreaInformation: Text; GPSDifferential: Integer"),
    NS["aux"]: _table("Lens: Text; SerialNumber: Text"),
    NS["xmpDM"]: _table(
        "projectRef: ProjectLink; videoFrameRate: Text; videoFrameSize: Dimensions; videoPixelAspectRatio: Rational; "
        "videoPixelDepth: Text; videoColorSpace: Text; videoAlphaMode: Text; videoAlphaPremultipleColor: Colorant; "
        "videoAlphaUnityIsTransparent: Boolean; videoCompressor: Text; videoFieldOrder: Text; pullDown: Text; "
        "audioSampleRate: Integer; audioSampleType: Text; audioChannelType: Text; audioCompressor: Text; "
        "speakerPlacement: Text; fileDataRate: Rational; tapeName: Text; altTapeName: Text; "
        "startTimecode: Timecode; altTimecode: Timecode; duration: Time; scene: Text; shotName: Text; "
        "shotDate: Date; shotLocation: Text; logComment: Text; markers: Seq Marker; contributedMedia: Bag Media; "
        "absPeakAudioFilePath: URI; relativePeakAudioFilePath: URI; videoModDate: Date; audioModDate: Date; "
        "metadataModDate: Date; artist: Text; album: Text; trackNumber: Integer; genre: Text; copyright: Text; "
        "releaseDate: Date; composer: Text; engineer: Text; tempo: Real; instrument: Text; introTime: Time; "
        "outCue: Time; relativeTimestamp: Time; loop: Boolean; numberOfBeats: Real; key: Text; stretchMode: Text; "
        "timeScaleParams: TimeScaleStretch; resampleParams: ResampleStretch; beatSpliceParams: BeatSpliceStretch; "
        "timeSignature: Text; scaleType: Text"),
    NS["crs"]: _table(
        "AutoBrightness: Boolean; AutoContrast: Boolean; AutoExposure: Boolean; AutoShadows: Boolean; "
        "BlueHue: Integer; BlueSaturation: Integer; Brightness: Integer; CameraProfile: Text; "
        "ChromaticAberrationB: Integer; ChromaticAberrationR: Integer; ColorNoiseReduction: Integer; "
        "Contrast: Integer; CropTop: Real; CropLeft: Real; CropBottom: Real; CropRight: Real; CropAngle: Real; "
        "CropWidth: Real; CropHeight: Real; CropUnits: Integer; Exposure: Real; GreenHue: Integer; "
        "GreenSaturation: Integer; HasCrop: Boolean; HasSettings: Boolean; LuminanceSmoothing: Integer; "
        "RawFileName: Text; RedHue: Integer; RedSaturation: Integer; Saturation: Integer; Shadows: Integer; "
        "ShadowTint: Integer; Sharpness: Integer; Temperature: Integer; Tint: Integer; ToneCurve: Seq Text; "
        "ToneCurveName: Text; Version: Text; VignetteAmount: Integer; VignetteMidpoint: Integer; "
        "WhiteBalance: Text"),
}

# Structured value types: name (lower case) -> (namespace of the fields, {field: type}).
STRUCTS: dict[str, tuple[str, dict[str, str]]] = {
    "dimensions": (NS["stDim"], _table("w: Real; h: Real; unit: Text")),
    "thumbnail": (NS["xmpGImg"], _table("height: Integer; width: Integer; format: Text; image: Text")),
    "resourceevent": (NS["stEvt"], _table(
        "action: Text; instanceID: URI; parameters: Text; softwareAgent: AgentName; when: Date")),
    "resourceref": (NS["stRef"], _table(
        "instanceID: URI; documentID: URI; versionID: Text; renditionClass: RenditionClass; renditionParams: Text; "
        "manager: AgentName; managerVariant: Text; manageTo: URI; manageUI: URI")),
    "version": (NS["stVer"], _table(
        "comments: Text; event: ResourceEvent; modifyDate: Date; modifier: ProperName; version: Text")),
    "job": (NS["stJob"], _table("name: Text; id: Text; url: URL")),
    "font": (NS["stFnt"], _table(
        "fontName: Text; fontFamily: Text; fontFace: Text; fontType: Text; versionString: Text; "
        "composite: Boolean; fontFileName: Text; childFontFiles: Seq Text")),
    "colorant": (NS["xmpG"], _table(
        "swatchName: Text; mode: Text; type: Text; cyan: Real; magenta: Real; yellow: Real; black: Real; "
        "red: Integer; green: Integer; blue: Integer; L: Real; A: Integer; B: Integer")),
    "flash": (NS["exif"], _table("Fired: Boolean; Return: Text; Mode: Text; Function: Boolean; RedEyeMode: Boolean")),
    "oecf/sfr": (NS["exif"], _table("Columns: Integer; Rows: Integer; Names: Seq Text; Values: Seq Rational")),
    "cfapattern": (NS["exif"], _table("Columns: Integer; Rows: Integer; Values: Seq Integer")),
    "devicesettings": (NS["exif"], _table("Columns: Integer; Rows: Integer; Settings: Seq Text")),
    "beatsplicestretch": (NS["xmpDM"], _table("useFileBeatsMarker: Boolean; riseInDecibel: Real; "
                                              "riseInTimeDuration: Time")),
    "marker": (NS["xmpDM"], _table(
        "startTime: Any; duration: Any; comment: Text; name: Text; location: URI; target: Text; type: Text")),
    "media": (NS["xmpDM"], _table(
        "path: URI; track: Text; startTime: Time; duration: Time; managed: Boolean; webStatement: URI")),
    "projectlink": (NS["xmpDM"], _table("path: URI; type: Text")),
    "resamplestretch": (NS["xmpDM"], _table("quality: Text")),
    "time": (NS["xmpDM"], _table("value: Integer; scale: Rational")),
    "timecode": (NS["xmpDM"], _table("timeValue: Text; timeFormat: Text")),
    "timescalestretch": (NS["xmpDM"], _table("quality: Text; frameSize: Real; frameOverlappingPercentage: Real")),
}

_ANY_TEXT = r"(?s).*"
# Simple value types: name (lower case) -> regular expression the whole value must match.
SIMPLE: dict[str, str] = {
    "text": _ANY_TEXT, "propername": _ANY_TEXT, "agentname": _ANY_TEXT, "rational": _ANY_TEXT,
    "renditionclass": _ANY_TEXT, "uri": _ANY_TEXT, "url": _ANY_TEXT, "xpath": _ANY_TEXT, "locale": _ANY_TEXT,
    "boolean": r"True|False",
    "integer": r"[+-]?\d+",
    "real": r"[+-]?\d+\.?\d*|[+-]?\d*\.?\d+",
    "mimetype": r"[-\w+.]+/[-\w+.]+",
    "gpscoordinate": r"\d{1,3},\d{1,2}(,\d{1,2}|\.\d+)[NSEW]",
    "date": r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?",
}
ARRAYS = ("bag", "seq", "alt")


def simplified(type_name: str) -> str:
    """A value type as the tables key it: 'Closed Choice of Integer' -> 'integer', 'Bag' -> 'bag text'."""
    kind = re.sub(r"(open |closed )?(choice |choice$)(of )?", "", type_name.lower()).strip()
    kind = re.sub(r"\s+", " ", kind)
    if not kind:
        return "text"
    if kind.endswith("lang alt"):
        return kind
    if kind in ARRAYS:
        return f"{kind} text"
    return kind
