package sign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
)

// scratch is a reusable buffer for the signed data of one chain verification.
type scratch struct{ buf []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024)} }}

// Checks switches the proxy's checks (SIGN_CHECK … ADDITION_EXPIRETIME_CHECK, narrowed by the
// path policy's skip actions).
type Checks struct {
	Sign, Hash, Worker, IP, Addition, AdditionExpire bool
}

// AllChecks is the default: everything on.
var AllChecks = Checks{true, true, true, true, true, true}

// ChainRequest is what the proxy knows when it verifies a download URL.
type ChainRequest struct {
	Path       string // decoded path
	Params     Params
	ClientIP   string // as extracted; "" when unknown
	WorkerAddr string // the proxy's own WORKER_ADDRESS, normalised by WorkerAddr
	Now        int64  // Unix seconds
}

// The proxy's chain messages (docs/contract.md §5 step 4).
var (
	signMsgs       = LabelMessages("sign")
	hashSignMsgs   = LabelMessages("hashSign")
	workerSignMsgs = LabelMessages("workerSign")
	ipSignMsgs     = LabelMessages("ipSign")
	addInfoMsgs    = LabelMessages("additionalInfoSign")

	ErrClientIPMissing      = &Error{"client ip missing"}
	ErrAdditionalMissing    = &Error{"additionalInfo missing"}
	ErrAdditionalSignAbsent = &Error{"additionalInfoSign missing"}
	ErrAdditionalPath       = &Error{"additionalInfo path mismatch"}
	ErrAdditionalExpire     = &Error{"additionalInfo expire invalid"}
	ErrLinkExpired          = &Error{"link expired"}
)

// VerifyChain checks sign → hashSign → workerSign → ipSign → additionalInfo in the order of
// docs/contract.md §5 and stops at the first failure, returning its *Error. The decoded additionalInfo is
// returned when it was checked (FileSize feeds the per-file quota).
func (kr *Keyring) VerifyChain(req *ChainRequest, c Checks) (info AdditionalInfo, infoOK bool, err error) {
	p := &req.Params
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if c.Sign {
		if _, err := kr.Verify(&signMsgs, p.Sign, req.Path, req.Now); err != nil {
			return info, false, err
		}
	}
	if c.Hash {
		if _, err := kr.verify(&hashSignMsgs, p.HashSign, base64.StdEncoding.AppendEncode(sc.buf[:0], stringBytes(req.Path)), req.Now); err != nil {
			return info, false, err
		}
	}
	if c.Worker {
		if _, err := kr.verify(&workerSignMsgs, p.WorkerSign, appendWorkerSignData(sc.buf[:0], req.Path, req.WorkerAddr), req.Now); err != nil {
			return info, false, err
		}
	}
	if c.IP {
		if p.IPSign == "" {
			return info, false, ipSignMsgs.Missing
		}
		if req.ClientIP == "" {
			return info, false, ErrClientIPMissing
		}
		if _, err := kr.verify(&ipSignMsgs, p.IPSign, appendIPSignData(sc.buf[:0], req.Path, req.ClientIP), req.Now); err != nil {
			return info, false, err
		}
	}
	if c.Addition {
		if p.AdditionalInfo == "" {
			return info, false, ErrAdditionalMissing
		}
		if p.AdditionalInfoSign == "" {
			return info, false, ErrAdditionalSignAbsent
		}
		if _, err := kr.Verify(&addInfoMsgs, p.AdditionalInfoSign, p.AdditionalInfo, req.Now); err != nil {
			return info, false, err
		}
		info, err = DecodeAdditionalInfo(p.AdditionalInfo)
		if err != nil {
			return info, false, err
		}
		sum := sha256.Sum256(stringBytes(req.Path))
		var hexSum [2 * sha256.Size]byte
		hex.Encode(hexSum[:], sum[:])
		if info.PathHash != string(hexSum[:]) {
			return info, false, ErrAdditionalPath
		}
		if c.AdditionExpire {
			if info.ExpireTime <= 0 {
				return info, false, ErrAdditionalExpire
			}
			if req.Now > info.ExpireTime {
				return info, false, ErrLinkExpired
			}
		}
		return info, true, nil
	}
	return info, false, nil
}

// BuildParams signs every parameter for path as the landing does. expire is the incoming AList
// sign's expire (reused by every derived signature); info == nil leaves additionalInfo out
// (IF_APPEND_ADDITIONAL=false).
func (kr *Keyring) BuildParams(path, workerAddr, clientIP string, expire int64, info *AdditionalInfo) Params {
	p := Params{
		Sign:       kr.Sign(path, expire),
		HashSign:   kr.Sign(HashSignData(path), expire),
		WorkerSign: kr.Sign(WorkerSignData(path, workerAddr), expire),
		IPSign:     kr.Sign(IPSignData(path, clientIP), expire),
	}
	if info != nil {
		p.AdditionalInfo = info.Encode()
		p.AdditionalInfoSign = kr.Sign(p.AdditionalInfo, expire)
	}
	return p
}
