package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lambdalab/cloud"
	"lambdalab/cloud/lambda"
	"lambdalab/facts"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// awsRegion is the one region every emulated account lives in.
const awsRegion = cloud.Region

// account shows the signed-in user their own AWS account and access key.
// It is the only page that shows a secret key, and only to its owner.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account")
	if u == nil {
		return
	}
	keys, err := s.db.AccountKeys(r.Context(), u.AccountID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("account page: %w", err))
		return
	}
	v := ui.AccountView{
		XRayLayerReady: s.xrayLayerPath() != "",
		AccountID:      u.AccountID,
		Region:         awsRegion,
		Endpoint:       s.awsEndpoint,
		Rotated:        r.URL.Query().Get("rotated") == "1",
	}
	var cli ui.CLISetup
	if len(keys) > 0 {
		k := keys[len(keys)-1] // the newest
		v.AccessKeyID, v.Secret = k.ID, k.Secret
		v.Env = awsEnv(k, s.awsEndpoint)
		cli = awsConfigure(k, s.awsEndpoint)
	}
	now := time.Now().UTC()
	bill, err := s.billing(r.Context(), u.AccountID, now)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("account page: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, ui.AccountPage(s.siteFor(r), v, cli, bill))
}

// rotateKeys replaces the signed-in user's key pair; the old one stops
// working at once. Cross-origin posts never get here (see Routes).
func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account")
	if u == nil {
		return
	}
	k, err := s.db.RotateAccessKey(r.Context(), u.AccountID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("rotate access key: %w", err))
		return
	}
	s.logger.InfoContext(r.Context(), "access key rotated", "user_id", u.ID, "account", u.AccountID, "access_key_id", k.ID)
	http.Redirect(w, r, "/account?rotated=1", http.StatusSeeOther)
}

// awsEnv is the shell setup for key, as `lambdalab user keys` prints it.
func awsEnv(k store.AccessKey, endpoint string) string {
	return cloud.ShellEnv("", k.ID, k.Secret, endpoint)
}

// cliProfile is the AWS CLI profile the account page's setup writes.
const cliProfile = "lambdalab"

// awsConfigure is the account's key, region and endpoint as `aws configure
// set` lines for one named profile, so that the learner's other profiles
// (a real AWS account's, say) stay as they are.
func awsConfigure(k store.AccessKey, endpoint string) ui.CLISetup {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"aws_access_key_id", k.ID},
		{"aws_secret_access_key", k.Secret},
		{"region", awsRegion},
		// Read by AWS CLI v2.13 and later; older ones ignore it.
		{"endpoint_url", endpoint},
	} {
		fmt.Fprintf(&b, "aws configure set %s %s --profile %s\n", kv[0], cloud.ShellQuote(kv[1]), cliProfile)
	}
	return ui.CLISetup{
		Profile:   cliProfile,
		Configure: b.String(),
		Example:   "aws --profile " + cliProfile + " --endpoint-url " + cloud.ShellQuote(endpoint) + " lambda list-functions",
	}
}

// provisionedConfig is one provisioned concurrency configuration as billing
// needs it.
type provisionedConfig struct {
	Function, Qualifier string
	Instances, MemoryMB int
	Arch                string
	Since               time.Time // when it was last set
}

// billing gathers the account's billing totals as of now.
func (s *Server) billing(ctx context.Context, account string, now time.Time) (ui.BillingView, error) {
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	month, err := s.db.UsageTotals(ctx, account, monthStart, time.Time{})
	if err != nil {
		return ui.BillingView{}, fmt.Errorf("billing: %w", err)
	}
	all, err := s.db.UsageTotals(ctx, account, time.Time{}, time.Time{})
	if err != nil {
		return ui.BillingView{}, fmt.Errorf("billing: %w", err)
	}
	pcs, err := s.provisionedConfigs(ctx, account)
	if err != nil {
		return ui.BillingView{}, fmt.Errorf("billing: %w", err)
	}
	return billingView(now, month, all, pcs), nil
}

// provisionedConfigs lists the account's provisioned concurrency with the
// memory and architecture of what each configuration keeps. Without the
// Lambda service (a site serving lessons only) there is none to bill.
func (s *Server) provisionedConfigs(ctx context.Context, account string) ([]provisionedConfig, error) {
	if s.cloud == nil || s.cloud.Lambda == nil {
		return nil, nil
	}
	ps, err := s.db.ListProvisionedConcurrency(ctx, account, "")
	if err != nil {
		return nil, err
	}
	var out []provisionedConfig
	for _, p := range ps {
		fc, err := s.cloud.Lambda.GetFunctionConfiguration(ctx, account, p.Function, p.Qualifier)
		if err != nil {
			if le, ok := lambda.AsError(err); ok && le.Status == http.StatusNotFound {
				// Deleted between the two reads: Lambda stops charging then.
				continue
			}
			return nil, err
		}
		arch := "x86_64"
		if len(fc.Architectures) > 0 {
			arch = fc.Architectures[0]
		}
		out = append(out, provisionedConfig{Function: p.Function, Qualifier: p.Qualifier,
			Instances: p.Requested, MemoryMB: fc.MemorySize, Arch: arch, Since: p.LastModified})
	}
	return out, nil
}

// billingView does the arithmetic of the account page's totals with the
// sandbox's prices (sandbox/billing.go). The records' CostUSD holds compute
// and the request charge; the free tier (per calendar month, UTC) takes the
// first million requests and 400,000 GB-s and nothing of provisioned
// concurrency. The configured time of provisioned concurrency is counted
// from when each configuration was last set.
func billingView(now time.Time, month, all store.UsageTotals, pcs []provisionedConfig) ui.BillingView {
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	v := ui.BillingView{
		Month:            now.Format("January 2006"),
		PricesAsOf:       sandbox.PricesAsOf,
		PricingURL:       sandbox.PricingURL,
		RequestPrice:     formatUSD(sandbox.PricePerRequest*1e6) + " per million",
		ProvisionedPrice: "$" + strconv.FormatFloat(sandbox.PricePerGBSecondProvisionedX86, 'f', -1, 64) + " per GB-second (x86_64)",
	}
	var pcMonth, pcAll float64
	for _, p := range pcs {
		from := p.Since
		if from.Before(monthStart) {
			from = monthStart
		}
		mg := sandbox.ProvisionedGBSeconds(p.Instances, p.MemoryMB, now.Sub(from))
		ag := sandbox.ProvisionedGBSeconds(p.Instances, p.MemoryMB, now.Sub(p.Since))
		mc, ac := mg*sandbox.ProvisionedPrice(p.Arch), ag*sandbox.ProvisionedPrice(p.Arch)
		pcMonth += mc
		pcAll += ac
		v.Provisioned = append(v.Provisioned, ui.ProvisionedCharge{Function: p.Function, Qualifier: p.Qualifier,
			Instances: p.Instances, MemoryMB: p.MemoryMB, Since: p.Since.UTC().Format("2 Jan 2006 15:04 MST"),
			MonthGBSeconds: billGBs(mg), MonthCost: formatUSD(mc), AllGBSeconds: billGBs(ag), AllCost: formatUSD(ac)})
	}
	var mCompute, mRequests float64
	v.ThisMonth, mCompute, mRequests = billingTotals(month, pcMonth, len(pcs) > 0)
	v.AllTime, _, _ = billingTotals(all, pcAll, len(pcs) > 0)
	v.AnyThrottled = all.Throttled > 0

	// Above the free tier: the requests over a million, and the GB-s over
	// 400,000 at the month's average duration price (x86 and arm64 share
	// the free GB-s).
	overRequests := max(0, month.Requests-sandbox.FreeTierRequests)
	overCompute := 0.0
	if month.GBSeconds > sandbox.FreeTierGBSeconds {
		overCompute = mCompute * (month.GBSeconds - sandbox.FreeTierGBSeconds) / month.GBSeconds
	}
	toPay := float64(overRequests)*sandbox.PricePerRequest + overCompute
	v.FreeTier = ui.FreeTierUse{
		Requests:       facts.Group(month.Requests),
		RequestsLimit:  facts.Group(sandbox.FreeTierRequests),
		RequestsShare:  billShare(float64(month.Requests) / sandbox.FreeTierRequests),
		GBSeconds:      billGBs(month.GBSeconds),
		GBSecondsLimit: facts.Group(sandbox.FreeTierGBSeconds),
		GBSecondsShare: billShare(month.GBSeconds / sandbox.FreeTierGBSeconds),
		Covered:        formatUSD(mCompute + mRequests - toPay),
		ToPay:          formatUSD(toPay + pcMonth),
	}
	return v
}

// billingTotals is one column of totals, and its compute and request costs.
func billingTotals(u store.UsageTotals, provisioned float64, showProvisioned bool) (ui.BillingTotals, float64, float64) {
	requests := float64(u.Requests) * sandbox.PricePerRequest
	compute := max(0, u.CostUSD-requests)
	t := ui.BillingTotals{
		Requests:    facts.Group(u.Requests),
		Throttled:   facts.Group(u.Throttled),
		GBSeconds:   billGBs(u.GBSeconds),
		Compute:     formatUSD(compute),
		RequestCost: formatUSD(requests),
		Total:       formatUSD(compute + requests + provisioned),
	}
	if showProvisioned {
		t.Provisioned = formatUSD(provisioned)
	}
	return t, compute, requests
}

// billSig writes v (not negative) with digits significant digits below 1
// and minDec decimals from 1 up, trailing zeros dropped and the whole part
// grouped by thousands: small Lambda amounts stay readable (0.3 GB-s,
// $0.0000056) instead of rounding to zero.
func billSig(v float64, digits, minDec int) string {
	if v <= 0 {
		return "0"
	}
	dec := minDec
	if v < 1 {
		dec = digits - 1 - int(math.Floor(math.Log10(v)))
	}
	s := strconv.FormatFloat(v, 'f', max(0, min(dec, 12)), 64)
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	n, _ := strconv.ParseInt(whole, 10, 64)
	if frac == "" {
		return facts.Group(n)
	}
	return facts.Group(n) + "." + frac
}

// billGBs writes GB-seconds: 0.3, 0.0155, 37.5, 25,920,000.
func billGBs(v float64) string { return billSig(v, 3, 2) }

// formatUSD writes dollars wherever the workspace shows them (the
// console's cost per invoke, power tuning, billing): $0.00 for nothing, two
// significant digits below a dime ($0.0000056), cents above ($108.00).
func formatUSD(v float64) string {
	switch {
	case v == 0:
		return "$0.00"
	case v < 0.1:
		return "$" + billSig(v, 2, 2)
	}
	cents := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(cents, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	return "$" + facts.Group(n) + "." + frac
}

// billShare writes a fraction as a percentage: 0.000075%.
func billShare(f float64) string { return billSig(f*100, 2, 1) + "%" }

func (s *Server) xrayLayerPath() string {
	if s.xrayLayer == nil {
		return ""
	}
	if p, ok := s.xrayLayer(); ok {
		return p
	}
	return ""
}

// xrayLayerZip hands a signed-in learner the ready X-Ray SDK layer, to
// publish into their account with one PublishLayerVersion call.
func (s *Server) xrayLayerZip(w http.ResponseWriter, r *http.Request) {
	if u := s.requireUser(w, r, "/account"); u == nil {
		return
	}
	path := s.xrayLayerPath()
	if path == "" {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "The X-Ray layer is not built yet: lambdalab builds it once its sandbox is running. Try again in a minute.", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="aws-xray-sdk-layer.zip"`)
	http.ServeFile(w, r, path)
}
