// ES module entry: the same functions as bastion-signer.js (which also works with require()).
import signer from './bastion-signer.js';

export const {
  sha256,
  hmacSha256,
  utf8Encode,
  base64Encode,
  base64UrlDecode,
  nonceFromBytes,
  contentDigest,
  canonicalQuery,
  combineHeaders,
  signatureBase,
  signRequest,
  splitUrl,
  wxNonce
} = signer;
export default signer;
