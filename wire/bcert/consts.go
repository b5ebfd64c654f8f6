package bcert

// Sizes and limits (docs/formats/bcert.md §2–§4, §11).
const (
	ChainHeaderSize  = 20
	CertHeaderSize   = 16
	ObjectHeaderSize = 8
	MaxCerts         = 6   // certificates per chain
	MaxFeatures      = 32  // entries in a FEATURE object
	MaxStringSize    = 128 // MANUFACTURER string, counting the NUL (limit unverified, enforced when building)
	KeyBits          = 512 // length field of an ECC-256 key, in bits
	BasicSize        = 80  // BASIC payload
	SignatureObjSize = 144 // whole SIGNATURE object, header included

	ChainVersion = 1
	CertVersion  = 1

	// ExpirationNever in BASIC means the certificate does not expire (§6).
	ExpirationNever = 0xFFFFFFFF

	// KeyTypeECC256 is the only key type (§5 KEY).
	KeyTypeECC256 = 1
	// SignatureTypeP256 is ECDSA-P256 over SHA-256 (§5 SIGNATURE).
	SignatureTypeP256 = 1

	// BasicFlagExtDataPresent is BASIC flags bit 0 (§6).
	BasicFlagExtDataPresent = 1
	// PlatformUnspecified is the platform ID prsim writes (§10).
	PlatformUnspecified = 0xFFFFFFFF
)

// Object header flags (§4).
const (
	ObjectFlagMustUnderstand = 0x0001
	ObjectFlagContainer      = 0x0002
)

// Object tags (§5).
const (
	TagBasic            = 0x0001
	TagDomain           = 0x0002
	TagPC               = 0x0003
	TagDevice           = 0x0004
	TagFeature          = 0x0005
	TagKey              = 0x0006
	TagManufacturer     = 0x0007
	TagSignature        = 0x0008
	TagSilverlight      = 0x0009
	TagMetering         = 0x000A
	TagExtDataSignKey   = 0x000B
	TagExtDataContainer = 0x000C
	TagExtDataSignature = 0x000D
	TagExtDataHWID      = 0x000E
	TagServer           = 0x000F
	TagSecurityVersion  = 0x0010
	TagSecurityVersion2 = 0x0011
)

// Feature IDs (§7).
const (
	FeatureTransmitter           = 0x1
	FeatureReceiver              = 0x2
	FeatureSharedCertificate     = 0x3
	FeatureSecureClock           = 0x4
	FeatureAntiRollbackClock     = 0x5
	FeatureReservedMetering      = 0x6
	FeatureReservedLicSync       = 0x7
	FeatureReservedSymOpt        = 0x8
	FeatureSupportsCRLs          = 0x9
	FeatureServerBasicEdition    = 0xA
	FeatureServerStandardEdition = 0xB
	FeatureServerPremiumEdition  = 0xC
	FeaturePR3                   = 0xD // SUPPORTS_PR3_FEATURES
	FeatureDeprecatedSecureStop  = 0xE
)

// Key usages (§8).
const (
	KeyUsageUnknown                       = 0x00
	KeyUsageSign                          = 0x01
	KeyUsageEncryptKey                    = 0x02
	KeyUsageSignCRL                       = 0x03
	KeyUsageIssuerAll                     = 0x04
	KeyUsageIssuerIndiv                   = 0x05
	KeyUsageIssuerDevice                  = 0x06
	KeyUsageIssuerLink                    = 0x07
	KeyUsageIssuerDomain                  = 0x08
	KeyUsageIssuerSilverlight             = 0x09
	KeyUsageIssuerApplication             = 0x0A
	KeyUsageIssuerCRL                     = 0x0B
	KeyUsageIssuerMetering                = 0x0C
	KeyUsageIssuerSignKeyfile             = 0x0D
	KeyUsageSignKeyfile                   = 0x0E
	KeyUsageIssuerServer                  = 0x0F
	KeyUsageEncryptKeySampleProtectionRC4 = 0x10
	KeyUsageReserved2                     = 0x11
	KeyUsageIssuerSignLicense             = 0x12
	KeyUsageSignLicense                   = 0x13
	KeyUsageSignResponse                  = 0x14
	KeyUsagePRNDEncryptKeyDeprecated      = 0x15
	KeyUsageEncryptKeySampleProtectionAES = 0x16
	KeyUsageIssuerSecureTimeServer        = 0x17
	KeyUsageIssuerRProvModelAuth          = 0x18
)

// Certificate types (§9).
const (
	CertTypeUnknown          = 0x0
	CertTypePC               = 0x1
	CertTypeDevice           = 0x2
	CertTypeDomain           = 0x3
	CertTypeIssuer           = 0x4
	CertTypeCRLSigner        = 0x5
	CertTypeService          = 0x6
	CertTypeSilverlight      = 0x7
	CertTypeApplication      = 0x8
	CertTypeMetering         = 0x9
	CertTypeKeyFileSigner    = 0xA
	CertTypeServer           = 0xB
	CertTypeLicenseSigner    = 0xC
	CertTypeSecureTimeServer = 0xD
	CertTypeRProvModelAuth   = 0xE
)

// issuerUsages are the parent-key usages accepted as "may issue" (§11, plus
// ISSUER_ALL, ISSUER_SERVER and ISSUER_RPROVMODELAUTH; see the package doc).
// Read-only.
var issuerUsages = map[uint32]bool{
	KeyUsageIssuerAll: true, KeyUsageIssuerIndiv: true, KeyUsageIssuerDevice: true,
	KeyUsageIssuerLink: true, KeyUsageIssuerDomain: true, KeyUsageIssuerSilverlight: true,
	KeyUsageIssuerApplication: true, KeyUsageIssuerCRL: true, KeyUsageIssuerMetering: true,
	KeyUsageIssuerSignKeyfile: true, KeyUsageIssuerServer: true, KeyUsageIssuerSignLicense: true,
	KeyUsageIssuerSecureTimeServer: true, KeyUsageIssuerRProvModelAuth: true,
}

// Names for Dump. Read-only lookup tables.
var (
	tagNames = map[uint16]string{
		TagBasic: "BASIC", TagDomain: "DOMAIN", TagPC: "PC", TagDevice: "DEVICE", TagFeature: "FEATURE",
		TagKey: "KEY", TagManufacturer: "MANUFACTURER", TagSignature: "SIGNATURE", TagSilverlight: "SILVERLIGHT",
		TagMetering: "METERING", TagExtDataSignKey: "EXTDATASIGNKEY", TagExtDataContainer: "EXTDATACONTAINER",
		TagExtDataSignature: "EXTDATASIGNATURE", TagExtDataHWID: "EXTDATA_HWID", TagServer: "SERVER",
		TagSecurityVersion: "SECURITY_VERSION", TagSecurityVersion2: "SECURITY_VERSION_2",
	}
	featureNames = map[uint32]string{
		FeatureTransmitter: "TRANSMITTER", FeatureReceiver: "RECEIVER", FeatureSharedCertificate: "SHARED_CERTIFICATE",
		FeatureSecureClock: "SECURE_CLOCK", FeatureAntiRollbackClock: "ANTIROLLBACK_CLOCK",
		FeatureReservedMetering: "RESERVED_METERING", FeatureReservedLicSync: "RESERVED_LICSYNC",
		FeatureReservedSymOpt: "RESERVED_SYMOPT", FeatureSupportsCRLs: "SUPPORTS_CRLS",
		FeatureServerBasicEdition: "SERVER_BASIC_EDITION", FeatureServerStandardEdition: "SERVER_STANDARD_EDITION",
		FeatureServerPremiumEdition: "SERVER_PREMIUM_EDITION", FeaturePR3: "SUPPORTS_PR3_FEATURES",
		FeatureDeprecatedSecureStop: "DEPRECATED_SECURE_STOP",
	}
	usageNames = map[uint32]string{
		KeyUsageUnknown: "UNKNOWN", KeyUsageSign: "SIGN", KeyUsageEncryptKey: "ENCRYPT_KEY", KeyUsageSignCRL: "SIGN_CRL",
		KeyUsageIssuerAll: "ISSUER_ALL", KeyUsageIssuerIndiv: "ISSUER_INDIV", KeyUsageIssuerDevice: "ISSUER_DEVICE",
		KeyUsageIssuerLink: "ISSUER_LINK", KeyUsageIssuerDomain: "ISSUER_DOMAIN", KeyUsageIssuerSilverlight: "ISSUER_SILVERLIGHT",
		KeyUsageIssuerApplication: "ISSUER_APPLICATION", KeyUsageIssuerCRL: "ISSUER_CRL", KeyUsageIssuerMetering: "ISSUER_METERING",
		KeyUsageIssuerSignKeyfile: "ISSUER_SIGN_KEYFILE", KeyUsageSignKeyfile: "SIGN_KEYFILE", KeyUsageIssuerServer: "ISSUER_SERVER",
		KeyUsageEncryptKeySampleProtectionRC4: "ENCRYPTKEY_SAMPLE_PROTECTION_RC4", KeyUsageReserved2: "RESERVED2",
		KeyUsageIssuerSignLicense: "ISSUER_SIGN_LICENSE", KeyUsageSignLicense: "SIGN_LICENSE", KeyUsageSignResponse: "SIGN_RESPONSE",
		KeyUsagePRNDEncryptKeyDeprecated:      "PRND_ENCRYPT_KEY_DEPRECATED",
		KeyUsageEncryptKeySampleProtectionAES: "ENCRYPTKEY_SAMPLE_PROTECTION_AES128CTR",
		KeyUsageIssuerSecureTimeServer:        "ISSUER_SECURETIMESERVER", KeyUsageIssuerRProvModelAuth: "ISSUER_RPROVMODELAUTH",
	}
	certTypeNames = map[uint32]string{
		CertTypeUnknown: "UNKNOWN", CertTypePC: "PC", CertTypeDevice: "DEVICE", CertTypeDomain: "DOMAIN",
		CertTypeIssuer: "ISSUER", CertTypeCRLSigner: "CRL_SIGNER", CertTypeService: "SERVICE",
		CertTypeSilverlight: "SILVERLIGHT", CertTypeApplication: "APPLICATION", CertTypeMetering: "METERING",
		CertTypeKeyFileSigner: "KEYFILESIGNER", CertTypeServer: "SERVER", CertTypeLicenseSigner: "LICENSESIGNER",
		CertTypeSecureTimeServer: "SECURETIMESERVER", CertTypeRProvModelAuth: "RPROVMODELAUTH",
	}
)
