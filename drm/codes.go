// The table below was generated once from docs/formats/errors.md (sections 2-7); keep the two in step.

package drm

// Result codes (docs/formats/errors.md). Each is a sentinel: errors.Is(err, ErrLicenseExpired).
const (
	ErrClkNotSet                             Code = 0x8004C05B // DRM_E_CLK_NOT_SET
	ErrNoClkSupported                        Code = 0x8004C05C // DRM_E_NO_CLK_SUPPORTED
	ErrClientTimeInvalid                     Code = 0x8004C01C // DRM_E_CLIENTTIMEINVALID
	ErrTEEClockNotSet                        Code = 0x8004CD14 // DRM_E_TEE_CLOCK_NOT_SET
	ErrTEEClockDrifted                       Code = 0x8004CD1F // DRM_E_TEE_CLOCK_DRIFTED
	ErrSecureTimeInvalidRequestData          Code = 0x8004DE00 // DRM_E_SECURETIME_INVALID_REQUEST_DATA
	ErrSecureTimeClockNotSet                 Code = 0x8004DE01 // DRM_E_SECURETIME_CLOCK_NOT_SET
	ErrSecureTimeResponseTimeout             Code = 0x8004DE02 // DRM_E_SECURETIME_RESPONSE_TIMEOUT
	ErrSecureTimeServerSecurityLevelTooLow   Code = 0x8004DE03 // DRM_E_SECURETIME_SERVER_SECURITY_LEVEL_TOO_LOW
	ErrLicenseServerTimeMustReacquireLicense Code = 0x8004DE04 // DRM_E_LICENSESERVERTIME_MUST_REACQUIRE_LICENSE
	ErrInvalidLicense                        Code = 0x8004C006 // DRM_E_INVALID_LICENSE
	ErrLicenseExpired                        Code = 0x8004C009 // DRM_E_LICENSE_EXPIRED
	ErrLicenseNotYetValid                    Code = 0x8004C00A // DRM_E_LICENSENOTYETVALID
	ErrRightsNotAvailable                    Code = 0x8004C00B // DRM_E_RIGHTS_NOT_AVAILABLE
	ErrLicenseMismatch                       Code = 0x8004C00C // DRM_E_LICENSEMISMATCH
	ErrLicenseNotFound                       Code = 0x8004C013 // DRM_E_LICENSE_NOT_FOUND
	ErrLicenseRealtimeExpired                Code = 0x8004C084 // DRM_E_LICENSE_REALTIME_EXPIRED
	ErrLicEvalKIDMismatch                    Code = 0x8004C0C1 // DRM_E_LICEVAL_KID_MISMATCH
	ErrLicEvalLicenseRevoked                 Code = 0x8004C0C2 // DRM_E_LICEVAL_LICENSE_REVOKED
	ErrLicSignatureFailure                   Code = 0x80048008 // DRM_E_LIC_SIGNATURE_FAILURE
	ErrInvalidSignature                      Code = 0x800480CF // DRM_E_INVALID_SIGNATURE
	ErrDeviceSecurityLevelTooLow             Code = 0x8004A004 // DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW
	ErrLicGenChildSecurityLevelTooLow        Code = 0x8004D909 // DRM_E_LICGEN_CHILD_SECURITY_LEVEL_TOO_LOW
	ErrExtendedRestrictionNotUnderstood      Code = 0x8004A01B // DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD
	ErrNoOPLCallback                         Code = 0x8004C06E // DRM_E_NO_OPL_CALLBACK
	ErrTEEOutputProtectionRequirementsNotMet Code = 0x8004CD22 // DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET
	ErrInvalidDeviceCertificate              Code = 0x8004C035 // DRM_E_INVALID_DEVICE_CERTIFICATE
	ErrCertificateRevoked                    Code = 0x8004C053 // DRM_E_CERTIFICATE_REVOKED
	ErrDevCertRevoked                        Code = 0x8004C065 // DRM_E_DEVCERT_REVOKED
	ErrActivationGroupCertRevokedError       Code = 0x8004C07D // DRM_E_ACTIVATION_GROUP_CERT_REVOKED_ERROR
	ErrFirmwareRevoked                       Code = 0x8004DB04 // DRM_E_FIRMWARE_REVOKED
	ErrRIVTooSmall                           Code = 0x8004C063 // DRM_E_RIV_TOO_SMALL
	ErrInvalidRevocationList                 Code = 0x8004A018 // DRM_E_INVALID_REVOCATION_LIST
	ErrOutdatedRevocationList                Code = 0x8004A01E // DRM_E_OUTDATED_REVOCATION_LIST
	ErrRevocationNotSupported                Code = 0x8004C071 // DRM_E_REVOCATION_NOT_SUPPORTED
	ErrBCertInvalidSignatureType             Code = 0x8004C800 // DRM_E_BCERT_INVALID_SIGNATURE_TYPE
	ErrBCertChainTooDeep                     Code = 0x8004C801 // DRM_E_BCERT_CHAIN_TOO_DEEP
	ErrBCertInvalidCertType                  Code = 0x8004C802 // DRM_E_BCERT_INVALID_CERT_TYPE
	ErrBCertInvalidKeyUsage                  Code = 0x8004C804 // DRM_E_BCERT_INVALID_KEY_USAGE
	ErrBCertInvalidKeyLength                 Code = 0x8004C807 // DRM_E_BCERT_INVALID_KEY_LENGTH
	ErrBCertInvalidSecurityLevel             Code = 0x8004C80B // DRM_E_BCERT_INVALID_SECURITY_LEVEL
	ErrBCertBasicInfoCertExpired             Code = 0x8004C81C // DRM_E_BCERT_BASICINFO_CERT_EXPIRED
	ErrBCertUnexpectedObjectHeader           Code = 0x8004C81D // DRM_E_BCERT_UNEXPECTED_OBJECT_HEADER
	ErrBCertIssuerKeyKeyInfoMismatch         Code = 0x8004C81E // DRM_E_BCERT_ISSUERKEY_KEYINFO_MISMATCH
	ErrBCertInvalidChainHeaderTag            Code = 0x8004C821 // DRM_E_BCERT_INVALID_CHAIN_HEADER_TAG
	ErrBCertInvalidChainVersion              Code = 0x8004C822 // DRM_E_BCERT_INVALID_CHAIN_VERSION
	ErrBCertInvalidChainLength               Code = 0x8004C823 // DRM_E_BCERT_INVALID_CHAIN_LENGTH
	ErrBCertInvalidCertHeaderTag             Code = 0x8004C824 // DRM_E_BCERT_INVALID_CERT_HEADER_TAG
	ErrBCertInvalidCertLength                Code = 0x8004C826 // DRM_E_BCERT_INVALID_CERT_LENGTH
	ErrBCertInvalidSignedCertLength          Code = 0x8004C827 // DRM_E_BCERT_INVALID_SIGNEDCERT_LENGTH
	ErrBCertRequiredKeyUsageMissing          Code = 0x8004C837 // DRM_E_BCERT_REQUIRED_KEYUSAGE_MISSING
	ErrBCertObjectHeaderLenTooSmall          Code = 0x8004C83B // DRM_E_BCERT_OBJECTHEADER_LEN_TOO_SMALL
	ErrBCertInvalidDigest                    Code = 0x8004C83D // DRM_E_BCERT_INVALID_DIGEST
	ErrInvalidLicenseResponseSignature       Code = 0x8004C076 // DRM_E_INVALID_LICENSE_RESPONSE_SIGNATURE
	ErrInvalidLicenseResponseID              Code = 0x8004C077 // DRM_E_INVALID_LICENSE_RESPONSE_ID
	ErrLicenseResponseSignatureMissing       Code = 0x8004C078 // DRM_E_LICENSE_RESPONSE_SIGNATURE_MISSING
	ErrLicAcqTooManyLicenses                 Code = 0x8004C700 // DRM_E_LICACQ_TOO_MANY_LICENSES
	ErrLicAcqAckTransactionIDTooBig          Code = 0x8004C701 // DRM_E_LICACQ_ACK_TRANSACTION_ID_TOO_BIG
	ErrLicAcqAckMessageNotCreated            Code = 0x8004C702 // DRM_E_LICACQ_ACK_MESSAGE_NOT_CREATED
	ErrXMLSigECDSAVerifyFailure              Code = 0x8004C900 // DRM_E_XMLSIG_ECDSA_VERIFY_FAILURE
	ErrXMLSigSHAVerifyFailure                Code = 0x8004C901 // DRM_E_XMLSIG_SHA_VERIFY_FAILURE
	ErrXMLSigFormat                          Code = 0x8004C902 // DRM_E_XMLSIG_FORMAT
	ErrSOAPXMLInvalidStatusCode              Code = 0x8004CB00 // DRM_E_SOAPXML_INVALID_STATUS_CODE
	ErrSOAPXMLXMLFormat                      Code = 0x8004CB01 // DRM_E_SOAPXML_XML_FORMAT
	ErrSOAPXMLWrongMessageType               Code = 0x8004CB02 // DRM_E_SOAPXML_WRONG_MESSAGE_TYPE
	ErrSOAPXMLSignatureMissing               Code = 0x8004CB03 // DRM_E_SOAPXML_SIGNATURE_MISSING
	ErrSOAPXMLProtocolNotSupported           Code = 0x8004CB04 // DRM_E_SOAPXML_PROTOCOL_NOT_SUPPORTED
	ErrSOAPXMLDataNotFound                   Code = 0x8004CB05 // DRM_E_SOAPXML_DATA_NOT_FOUND
	ErrServerInternalError                   Code = 0x8004C600 // DRM_E_SERVER_INTERNAL_ERROR
	ErrServerInvalidMessage                  Code = 0x8004C601 // DRM_E_SERVER_INVALID_MESSAGE
	ErrServerDeviceLimitReached              Code = 0x8004C602 // DRM_E_SERVER_DEVICE_LIMIT_REACHED
	ErrServerIndivRequired                   Code = 0x8004C603 // DRM_E_SERVER_INDIV_REQUIRED
	ErrServerServiceSpecific                 Code = 0x8004C604 // DRM_E_SERVER_SERVICE_SPECIFIC
	ErrServerDomainRequired                  Code = 0x8004C605 // DRM_E_SERVER_DOMAIN_REQUIRED
	ErrServerRenewDomain                     Code = 0x8004C606 // DRM_E_SERVER_RENEW_DOMAIN
	ErrServerUnknownMeteringID               Code = 0x8004C607 // DRM_E_SERVER_UNKNOWN_METERINGID
	ErrServerComputerLimitReached            Code = 0x8004C608 // DRM_E_SERVER_COMPUTER_LIMIT_REACHED
	ErrServerProtocolFallback                Code = 0x8004C609 // DRM_E_SERVER_PROTOCOL_FALLBACK
	ErrServerNotAMember                      Code = 0x8004C60A // DRM_E_SERVER_NOT_A_MEMBER
	ErrServerProtocolVersionMismatch         Code = 0x8004C60B // DRM_E_SERVER_PROTOCOL_VERSION_MISMATCH
	ErrServerUnknownAccountID                Code = 0x8004C60C // DRM_E_SERVER_UNKNOWN_ACCOUNTID
	ErrServerProtocolRedirect                Code = 0x8004C60D // DRM_E_SERVER_PROTOCOL_REDIRECT
	ErrServerUnknownTransactionID            Code = 0x8004C610 // DRM_E_SERVER_UNKNOWN_TRANSACTIONID
	ErrServerInvalidLicenseID                Code = 0x8004C611 // DRM_E_SERVER_INVALID_LICENSEID
	ErrServerMaximumLicenseIDExceeded        Code = 0x8004C612 // DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED
	ErrDomainNotFound                        Code = 0x8004C509 // DRM_E_DOMAIN_NOT_FOUND
	ErrDeviceDomainJoinRequired              Code = 0x8004C580 // DRM_E_DEVICE_DOMAIN_JOIN_REQUIRED
	ErrSecureStopStoreCorrupt                Code = 0x8004DC00 // DRM_E_SECURESTOP_STORE_CORRUPT
	ErrSecureStopSessionLocked               Code = 0x8004DC02 // DRM_E_SECURESTOP_SESSION_LOCKED
	ErrSecureStopSessionCorrupt              Code = 0x8004DC03 // DRM_E_SECURESTOP_SESSION_CORRUPT
	ErrSecureStopSessionActive               Code = 0x8004DC04 // DRM_E_SECURESTOP_SESSION_ACTIVE
	ErrSecureStopSessionNotFound             Code = 0x8004DC05 // DRM_E_SECURESTOP_SESSION_NOT_FOUND
	ErrSecureStopInvalidResponse             Code = 0x8004DC06 // DRM_E_SECURESTOP_INVALID_RESPONSE
	ErrSecureStopSessionStopped              Code = 0x8004DC07 // DRM_E_SECURESTOP_SESSION_STOPPED
	ErrSecureStopInvalidPublisherID          Code = 0x8004DC08 // DRM_E_SECURESTOP_INVALID_PUBLISHER_ID
	ErrSecureStopPublisherIDInconsistent     Code = 0x8004DC09 // DRM_E_SECURESTOP_PUBLISHER_ID_INCONSISTENT
	ErrSecureStopInconsistent                Code = 0x8004DC0A // DRM_E_SECURESTOP_INCONSISTENT
)

var names = map[Code]string{
	ErrClkNotSet:                             "DRM_E_CLK_NOT_SET",
	ErrNoClkSupported:                        "DRM_E_NO_CLK_SUPPORTED",
	ErrClientTimeInvalid:                     "DRM_E_CLIENTTIMEINVALID",
	ErrTEEClockNotSet:                        "DRM_E_TEE_CLOCK_NOT_SET",
	ErrTEEClockDrifted:                       "DRM_E_TEE_CLOCK_DRIFTED",
	ErrSecureTimeInvalidRequestData:          "DRM_E_SECURETIME_INVALID_REQUEST_DATA",
	ErrSecureTimeClockNotSet:                 "DRM_E_SECURETIME_CLOCK_NOT_SET",
	ErrSecureTimeResponseTimeout:             "DRM_E_SECURETIME_RESPONSE_TIMEOUT",
	ErrSecureTimeServerSecurityLevelTooLow:   "DRM_E_SECURETIME_SERVER_SECURITY_LEVEL_TOO_LOW",
	ErrLicenseServerTimeMustReacquireLicense: "DRM_E_LICENSESERVERTIME_MUST_REACQUIRE_LICENSE",
	ErrInvalidLicense:                        "DRM_E_INVALID_LICENSE",
	ErrLicenseExpired:                        "DRM_E_LICENSE_EXPIRED",
	ErrLicenseNotYetValid:                    "DRM_E_LICENSENOTYETVALID",
	ErrRightsNotAvailable:                    "DRM_E_RIGHTS_NOT_AVAILABLE",
	ErrLicenseMismatch:                       "DRM_E_LICENSEMISMATCH",
	ErrLicenseNotFound:                       "DRM_E_LICENSE_NOT_FOUND",
	ErrLicenseRealtimeExpired:                "DRM_E_LICENSE_REALTIME_EXPIRED",
	ErrLicEvalKIDMismatch:                    "DRM_E_LICEVAL_KID_MISMATCH",
	ErrLicEvalLicenseRevoked:                 "DRM_E_LICEVAL_LICENSE_REVOKED",
	ErrLicSignatureFailure:                   "DRM_E_LIC_SIGNATURE_FAILURE",
	ErrInvalidSignature:                      "DRM_E_INVALID_SIGNATURE",
	ErrDeviceSecurityLevelTooLow:             "DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW",
	ErrLicGenChildSecurityLevelTooLow:        "DRM_E_LICGEN_CHILD_SECURITY_LEVEL_TOO_LOW",
	ErrExtendedRestrictionNotUnderstood:      "DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD",
	ErrNoOPLCallback:                         "DRM_E_NO_OPL_CALLBACK",
	ErrTEEOutputProtectionRequirementsNotMet: "DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET",
	ErrInvalidDeviceCertificate:              "DRM_E_INVALID_DEVICE_CERTIFICATE",
	ErrCertificateRevoked:                    "DRM_E_CERTIFICATE_REVOKED",
	ErrDevCertRevoked:                        "DRM_E_DEVCERT_REVOKED",
	ErrActivationGroupCertRevokedError:       "DRM_E_ACTIVATION_GROUP_CERT_REVOKED_ERROR",
	ErrFirmwareRevoked:                       "DRM_E_FIRMWARE_REVOKED",
	ErrRIVTooSmall:                           "DRM_E_RIV_TOO_SMALL",
	ErrInvalidRevocationList:                 "DRM_E_INVALID_REVOCATION_LIST",
	ErrOutdatedRevocationList:                "DRM_E_OUTDATED_REVOCATION_LIST",
	ErrRevocationNotSupported:                "DRM_E_REVOCATION_NOT_SUPPORTED",
	ErrBCertInvalidSignatureType:             "DRM_E_BCERT_INVALID_SIGNATURE_TYPE",
	ErrBCertChainTooDeep:                     "DRM_E_BCERT_CHAIN_TOO_DEEP",
	ErrBCertInvalidCertType:                  "DRM_E_BCERT_INVALID_CERT_TYPE",
	ErrBCertInvalidKeyUsage:                  "DRM_E_BCERT_INVALID_KEY_USAGE",
	ErrBCertInvalidKeyLength:                 "DRM_E_BCERT_INVALID_KEY_LENGTH",
	ErrBCertInvalidSecurityLevel:             "DRM_E_BCERT_INVALID_SECURITY_LEVEL",
	ErrBCertBasicInfoCertExpired:             "DRM_E_BCERT_BASICINFO_CERT_EXPIRED",
	ErrBCertUnexpectedObjectHeader:           "DRM_E_BCERT_UNEXPECTED_OBJECT_HEADER",
	ErrBCertIssuerKeyKeyInfoMismatch:         "DRM_E_BCERT_ISSUERKEY_KEYINFO_MISMATCH",
	ErrBCertInvalidChainHeaderTag:            "DRM_E_BCERT_INVALID_CHAIN_HEADER_TAG",
	ErrBCertInvalidChainVersion:              "DRM_E_BCERT_INVALID_CHAIN_VERSION",
	ErrBCertInvalidChainLength:               "DRM_E_BCERT_INVALID_CHAIN_LENGTH",
	ErrBCertInvalidCertHeaderTag:             "DRM_E_BCERT_INVALID_CERT_HEADER_TAG",
	ErrBCertInvalidCertLength:                "DRM_E_BCERT_INVALID_CERT_LENGTH",
	ErrBCertInvalidSignedCertLength:          "DRM_E_BCERT_INVALID_SIGNEDCERT_LENGTH",
	ErrBCertRequiredKeyUsageMissing:          "DRM_E_BCERT_REQUIRED_KEYUSAGE_MISSING",
	ErrBCertObjectHeaderLenTooSmall:          "DRM_E_BCERT_OBJECTHEADER_LEN_TOO_SMALL",
	ErrBCertInvalidDigest:                    "DRM_E_BCERT_INVALID_DIGEST",
	ErrInvalidLicenseResponseSignature:       "DRM_E_INVALID_LICENSE_RESPONSE_SIGNATURE",
	ErrInvalidLicenseResponseID:              "DRM_E_INVALID_LICENSE_RESPONSE_ID",
	ErrLicenseResponseSignatureMissing:       "DRM_E_LICENSE_RESPONSE_SIGNATURE_MISSING",
	ErrLicAcqTooManyLicenses:                 "DRM_E_LICACQ_TOO_MANY_LICENSES",
	ErrLicAcqAckTransactionIDTooBig:          "DRM_E_LICACQ_ACK_TRANSACTION_ID_TOO_BIG",
	ErrLicAcqAckMessageNotCreated:            "DRM_E_LICACQ_ACK_MESSAGE_NOT_CREATED",
	ErrXMLSigECDSAVerifyFailure:              "DRM_E_XMLSIG_ECDSA_VERIFY_FAILURE",
	ErrXMLSigSHAVerifyFailure:                "DRM_E_XMLSIG_SHA_VERIFY_FAILURE",
	ErrXMLSigFormat:                          "DRM_E_XMLSIG_FORMAT",
	ErrSOAPXMLInvalidStatusCode:              "DRM_E_SOAPXML_INVALID_STATUS_CODE",
	ErrSOAPXMLXMLFormat:                      "DRM_E_SOAPXML_XML_FORMAT",
	ErrSOAPXMLWrongMessageType:               "DRM_E_SOAPXML_WRONG_MESSAGE_TYPE",
	ErrSOAPXMLSignatureMissing:               "DRM_E_SOAPXML_SIGNATURE_MISSING",
	ErrSOAPXMLProtocolNotSupported:           "DRM_E_SOAPXML_PROTOCOL_NOT_SUPPORTED",
	ErrSOAPXMLDataNotFound:                   "DRM_E_SOAPXML_DATA_NOT_FOUND",
	ErrServerInternalError:                   "DRM_E_SERVER_INTERNAL_ERROR",
	ErrServerInvalidMessage:                  "DRM_E_SERVER_INVALID_MESSAGE",
	ErrServerDeviceLimitReached:              "DRM_E_SERVER_DEVICE_LIMIT_REACHED",
	ErrServerIndivRequired:                   "DRM_E_SERVER_INDIV_REQUIRED",
	ErrServerServiceSpecific:                 "DRM_E_SERVER_SERVICE_SPECIFIC",
	ErrServerDomainRequired:                  "DRM_E_SERVER_DOMAIN_REQUIRED",
	ErrServerRenewDomain:                     "DRM_E_SERVER_RENEW_DOMAIN",
	ErrServerUnknownMeteringID:               "DRM_E_SERVER_UNKNOWN_METERINGID",
	ErrServerComputerLimitReached:            "DRM_E_SERVER_COMPUTER_LIMIT_REACHED",
	ErrServerProtocolFallback:                "DRM_E_SERVER_PROTOCOL_FALLBACK",
	ErrServerNotAMember:                      "DRM_E_SERVER_NOT_A_MEMBER",
	ErrServerProtocolVersionMismatch:         "DRM_E_SERVER_PROTOCOL_VERSION_MISMATCH",
	ErrServerUnknownAccountID:                "DRM_E_SERVER_UNKNOWN_ACCOUNTID",
	ErrServerProtocolRedirect:                "DRM_E_SERVER_PROTOCOL_REDIRECT",
	ErrServerUnknownTransactionID:            "DRM_E_SERVER_UNKNOWN_TRANSACTIONID",
	ErrServerInvalidLicenseID:                "DRM_E_SERVER_INVALID_LICENSEID",
	ErrServerMaximumLicenseIDExceeded:        "DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED",
	ErrDomainNotFound:                        "DRM_E_DOMAIN_NOT_FOUND",
	ErrDeviceDomainJoinRequired:              "DRM_E_DEVICE_DOMAIN_JOIN_REQUIRED",
	ErrSecureStopStoreCorrupt:                "DRM_E_SECURESTOP_STORE_CORRUPT",
	ErrSecureStopSessionLocked:               "DRM_E_SECURESTOP_SESSION_LOCKED",
	ErrSecureStopSessionCorrupt:              "DRM_E_SECURESTOP_SESSION_CORRUPT",
	ErrSecureStopSessionActive:               "DRM_E_SECURESTOP_SESSION_ACTIVE",
	ErrSecureStopSessionNotFound:             "DRM_E_SECURESTOP_SESSION_NOT_FOUND",
	ErrSecureStopInvalidResponse:             "DRM_E_SECURESTOP_INVALID_RESPONSE",
	ErrSecureStopSessionStopped:              "DRM_E_SECURESTOP_SESSION_STOPPED",
	ErrSecureStopInvalidPublisherID:          "DRM_E_SECURESTOP_INVALID_PUBLISHER_ID",
	ErrSecureStopPublisherIDInconsistent:     "DRM_E_SECURESTOP_PUBLISHER_ID_INCONSISTENT",
	ErrSecureStopInconsistent:                "DRM_E_SECURESTOP_INCONSISTENT",
}
