package webpage

import (
	"net/http"
	"strconv"
	"strings"
)

// LangTags are the Content-Language / <html lang> of each language PickLang returns.
var LangTags = map[string]string{"en": "en", "zh": "zh-CN"}

// Texts are the page's words by language; the landing's script gets the same map.
var Texts = map[string]map[string]string{
	"en": {
		"download":          "Download",
		"size":              "Size",
		"size_pending":      "shown after the check",
		"bytes":             "bytes",
		"copy":              "Copy link",
		"copied":            "Link copied",
		"copy_failed":       "Could not copy the link automatically.",
		"checking":          "Checking your browser…",
		"checking_pct":      "Checking your browser… {p}%",
		"verify_turn":       "Please complete the check below.",
		"preparing":         "Preparing your download…",
		"ready":             "Your download is ready.",
		"redirecting":       "Starting your download…",
		"noscript":          "This download needs JavaScript for a short automatic check. Please enable JavaScript and reload this page.",
		"details":           "Details",
		"footer":            "Signed link checked by alist-edge",
		"err_title":         "This download is not available",
		"err_sign":          "This link is invalid or has expired. Go back to the file list and open the file again.",
		"err_denied":        "Downloading this file is not allowed.",
		"err_ipv6":          "Downloads are only available over IPv4. Please try again from another network.",
		"err_path":          "This link is damaged: the file name in it is not encoded correctly.",
		"err_rate":          "Too many downloads from your network. Please wait {s} seconds and try again.",
		"err_notfound":      "The file could not be found. It may have been moved or deleted.",
		"err_pow":           "The automatic browser check did not pass. Reload the page to try again.",
		"err_pow_expired":   "The check took too long. Reload the page to try again.",
		"err_turn":          "The human verification did not pass. Reload the page to try again.",
		"err_server":        "The server could not prepare your download. Please try again later.",
		"err_network":       "Could not reach the server. Check your connection and try again.",
		"login_needed":      "Sign in to download this file.",
		"login_name":        "Name",
		"login_password":    "Password",
		"login_submit":      "Sign in",
		"login_wrong":       "Wrong name or password.",
		"login_rate":        "Too many sign-in attempts. Please wait {s} seconds and try again.",
		"login_unavailable": "Signing in is not possible right now. Please try again later.",
		"signed_in":         "Signed in as {u}",
		"logout":            "Log out",
		"usage_bytes":       "{used} of {limit} used {period}",
		"usage_requests":    "{used} of {limit} downloads {period}",
		"usage_none":        "no allowance",
		"usage_resets":      ", resets in {t}",
		"period_day":        "today",
		"period_week":       "this week",
		"period_month":      "this month",
		"period_rolling":    "in this {d} window",
		"in_days":           "{n} d",
		"in_hours":          "{n} h",
		"in_minutes":        "{n} min",
	},
	"zh": {
		"download":          "下载",
		"size":              "大小",
		"size_pending":      "验证后显示",
		"bytes":             "字节",
		"copy":              "复制链接",
		"copied":            "链接已复制",
		"copy_failed":       "无法自动复制链接。",
		"checking":          "正在验证浏览器…",
		"checking_pct":      "正在验证浏览器… {p}%",
		"verify_turn":       "请完成下方的人机验证。",
		"preparing":         "正在准备下载…",
		"ready":             "下载已就绪。",
		"redirecting":       "正在开始下载…",
		"noscript":          "此下载需要 JavaScript 进行一次简短的自动验证。请启用 JavaScript 后刷新本页。",
		"details":           "详细信息",
		"footer":            "签名链接由 alist-edge 校验",
		"err_title":         "无法下载此文件",
		"err_sign":          "此链接无效或已过期。请返回文件列表重新打开该文件。",
		"err_denied":        "不允许下载此文件。",
		"err_ipv6":          "仅支持通过 IPv4 下载。请换一个网络再试。",
		"err_path":          "此链接已损坏：其中的文件名编码不正确。",
		"err_rate":          "你所在网络的下载次数过多。请等待 {s} 秒后再试。",
		"err_notfound":      "找不到该文件，它可能已被移动或删除。",
		"err_pow":           "浏览器自动验证未通过。请刷新页面重试。",
		"err_pow_expired":   "验证耗时过长。请刷新页面重试。",
		"err_turn":          "人机验证未通过。请刷新页面重试。",
		"err_server":        "服务器暂时无法准备下载，请稍后再试。",
		"err_network":       "无法连接服务器。请检查网络后重试。",
		"login_needed":      "登录后才能下载此文件。",
		"login_name":        "用户名",
		"login_password":    "密码",
		"login_submit":      "登录",
		"login_wrong":       "用户名或密码错误。",
		"login_rate":        "登录尝试次数过多。请等待 {s} 秒后再试。",
		"login_unavailable": "暂时无法登录，请稍后再试。",
		"signed_in":         "已登录：{u}",
		"logout":            "退出登录",
		"usage_bytes":       "{period}已用 {used} / {limit}",
		"usage_requests":    "{period}已下载 {used} / {limit} 次",
		"usage_none":        "无可用额度",
		"usage_resets":      "，{t}后重置",
		"period_day":        "今天",
		"period_week":       "本周",
		"period_month":      "本月",
		"period_rolling":    "本 {d} 周期内",
		"in_days":           "{n} 天",
		"in_hours":          "{n} 小时",
		"in_minutes":        "{n} 分钟",
	},
}

// PickLang chooses "zh" or "en" from Accept-Language by q-value (first wins a tie).
func PickLang(header string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		var l string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = "zh"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = "en"
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// errorKey picks the plain-words explanation of a refusal (the page's script has the same
// mapping for /info answers).
func errorKey(status int, msg string) string {
	switch {
	case status == http.StatusUnauthorized:
		return "err_sign"
	case status == http.StatusTooManyRequests:
		return "err_rate"
	case status == http.StatusBadRequest:
		return "err_path"
	case status == http.StatusNotFound:
		return "err_notfound"
	case msg == "ipv6 access is prohibited":
		return "err_ipv6"
	case msg == "proof of work expired":
		return "err_pow_expired"
	case strings.HasPrefix(msg, "proof of work"):
		return "err_pow"
	case strings.HasPrefix(msg, "turnstile"):
		return "err_turn"
	case status == http.StatusForbidden:
		return "err_denied"
	}
	return "err_server"
}
