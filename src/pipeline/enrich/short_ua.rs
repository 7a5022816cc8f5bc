//! Auth0's short-form user agents: `Chrome 114.0.0 / Windows 10.0.0`.
//!
//! Auth0 does not log the `User-Agent` header of most events but a summary
//! of it, `<client> <version> / <os> <version>` (the `toString()` of the
//! `useragent` npm package, which always writes three version parts),
//! sometimes with only the client or only the OS. uap-core cannot read
//! that form (every browser comes out as `Other`), so it is recognised
//! here first, in every parsing mode, and mapped to the same fields with
//! the names uap-core gives the same browser or OS in a full user-agent
//! string (`Chrome`, `Mobile Safari`, `Mac OS X`, `Windows`, `iOS`…), so
//! that one Kibana filter finds both forms.
//!
//! Rules: a `0.0.0` version and the name `Other` are no value (the field
//! is left out); `os.full` is `<os> <version>` when there is a version;
//! `device.name` only where the OS implies the device (`Mac OS X` → `Mac`,
//! as uap-core's `Macintosh` rule); `iOS` does not imply an iPhone.
//! A string with parentheses or semicolons, or whose parts do not end in a
//! three-part numeric version, is a full user agent and is left to the
//! regular parser.

use std::borrow::Cow;

/// Longest string taken as a short form (the real ones are < 80 bytes).
const MAX_LENGTH: usize = 256;

/// One side of a short form: a name and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The name as uap-core spells it.
    pub name: Cow<'a, str>,
    /// The version; `None` for `0.0.0`.
    pub version: Option<Cow<'a, str>>,
}

/// A recognised short form; either side may be unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortForm<'a> {
    /// The browser, app or library (`user_agent.name`, `.version`).
    pub client: Option<Part<'a>>,
    /// The operating system (`user_agent.os.*`).
    pub os: Option<Part<'a>>,
}

impl ShortForm<'_> {
    /// `user_agent.device.name` when the OS implies the device.
    pub fn device(&self) -> Option<&'static str> {
        match self.os.as_ref()?.name.as_ref() {
            "Mac OS X" => Some("Mac"),
            _ => None,
        }
    }
}

/// The short form of `agent`, if it is one.
pub fn parse(agent: &str) -> Option<ShortForm<'_>> {
    let agent = agent.trim();
    if agent.is_empty()
        || agent.len() > MAX_LENGTH
        || agent.bytes().any(|b| {
            matches!(
                b,
                b'(' | b')' | b';' | b'[' | b']' | b'{' | b'}' | b'"' | b'\\'
            )
        })
    {
        return None;
    }
    let mut sides = agent.split(" / ");
    let first = sides.next()?;
    let second = sides.next();
    if sides.next().is_some() {
        return None;
    }
    let first = side(first)?;
    match second {
        Some(second) => {
            let second = side(second)?;
            Some(ShortForm {
                client: client(first),
                os: os(second),
            })
        }
        None if is_os_name(first.0) => Some(ShortForm {
            client: None,
            os: os(first),
        }),
        None => Some(ShortForm {
            client: client(first),
            os: None,
        }),
    }
}

/// `name major.minor.patch`, as the `useragent` package writes it.
fn side(text: &str) -> Option<(&str, &str)> {
    let (name, version) = text.trim().rsplit_once(' ')?;
    let name = name.trim();
    let numeric = version.split('.').all(|part| {
        !part.is_empty() && part.len() <= 12 && part.bytes().all(|b| b.is_ascii_digit())
    });
    // A name may hold a `/` (`Mobile Safari UI/WKWebView`); a full user
    // agent without parentheses still fails the version test
    // (`curl/8.4.0`, `Go-http-client/1.1`).
    let well_formed = numeric
        && version.split('.').count() == 3
        && !name.contains(" /")
        && !name.contains("/ ")
        && name.bytes().any(|b| b.is_ascii_alphabetic());
    well_formed.then_some((name, version))
}

/// A version of only zeros is the package's placeholder for none.
fn version(version: &str) -> Option<Cow<'_, str>> {
    (!version
        .split('.')
        .all(|part| part.bytes().all(|b| b == b'0')))
    .then_some(Cow::Borrowed(version))
}

fn client<'a>((name, text): (&'a str, &'a str)) -> Option<Part<'a>> {
    if name == "Other" {
        return None;
    }
    Some(Part {
        name: Cow::Borrowed(name),
        version: version(text),
    })
}

/// Older `useragent` releases named Windows releases in the family
/// (`Windows 10 0.0.0`); uap-core says `Windows` with the release as
/// version, and so do we. Distribution names uap-core does not know
/// (`Arch`) are `Linux`, as uap-core gives for their full strings.
fn os<'a>((name, text): (&'a str, &'a str)) -> Option<Part<'a>> {
    if name == "Other" {
        return None;
    }
    if let Some(release) = name.strip_prefix("Windows ") {
        if WINDOWS_RELEASES.contains(&release) {
            return Some(Part {
                name: Cow::Borrowed("Windows"),
                version: version(text).or(Some(Cow::Borrowed(release))),
            });
        }
    }
    let name = match name {
        "Arch" | "Manjaro" | "Linux Mint" | "Mint" => "Linux",
        "OS X" | "macOS" => "Mac OS X",
        other => other,
    };
    Some(Part {
        name: Cow::Borrowed(name),
        version: version(text),
    })
}

/// Windows releases older `useragent` versions put in the OS name.
const WINDOWS_RELEASES: &[&str] = &[
    "10", "11", "2000", "7", "8", "8.1", "95", "98", "ME", "NT", "RT", "RT 8.1", "Vista", "XP",
];

/// Operating systems, as uap-core and the `useragent` package name them:
/// a one-sided short form naming one of these is an OS, else a client.
fn is_os_name(name: &str) -> bool {
    name.starts_with("Windows ")
        || matches!(
            name,
            "Android"
                | "Arch"
                | "BlackBerry OS"
                | "CentOS"
                | "Chrome OS"
                | "Chromecast"
                | "Debian"
                | "Fedora"
                | "Firefox OS"
                | "FreeBSD"
                | "Fuchsia"
                | "Gentoo"
                | "HarmonyOS"
                | "iOS"
                | "iPadOS"
                | "KaiOS"
                | "Kubuntu"
                | "Linux"
                | "Linux Mint"
                | "Mac OS"
                | "Mac OS X"
                | "macOS"
                | "Manjaro"
                | "Mint"
                | "NetBSD"
                | "OpenBSD"
                | "openSUSE"
                | "OS X"
                | "Red Hat"
                | "Solaris"
                | "SUSE"
                | "Tizen"
                | "tvOS"
                | "Ubuntu"
                | "WatchOS"
                | "webOS"
                | "Windows"
                | "Windows Mobile"
                | "Windows Phone"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part<'a>(name: &'a str, version: Option<&'a str>) -> Option<Part<'a>> {
        Some(Part {
            name: Cow::Borrowed(name),
            version: version.map(Cow::Borrowed),
        })
    }

    #[test]
    fn every_shape() {
        for (agent, client, os) in [
            (
                "Chrome 114.0.0 / Windows 10.0.0",
                part("Chrome", Some("114.0.0")),
                part("Windows", Some("10.0.0")),
            ),
            (
                "Mobile Safari 17.1.0 / iOS 17.1.0",
                part("Mobile Safari", Some("17.1.0")),
                part("iOS", Some("17.1.0")),
            ),
            (
                "Java 8.0.322 / Other 0.0.0",
                part("Java", Some("8.0.322")),
                None,
            ),
            ("Linux 0.0.0", None, part("Linux", None)),
            ("Mac OS X 10.15.7", None, part("Mac OS X", Some("10.15.7"))),
            ("node-fetch 1.0.0", part("node-fetch", Some("1.0.0")), None),
            ("Other 0.0.0 / Other 0.0.0", None, None),
            (
                "Chrome 58.0.3029 / Windows 10 0.0.0",
                part("Chrome", Some("58.0.3029")),
                part("Windows", Some("10")),
            ),
            (
                "IE 11.0.0 / Windows 7 0.0.0",
                part("IE", Some("11.0.0")),
                part("Windows", Some("7")),
            ),
            (
                "Firefox 125.0.0 / Arch 0.0.0",
                part("Firefox", Some("125.0.0")),
                part("Linux", None),
            ),
            (
                "Other 0.0.0 / Android 14.0.0",
                None,
                part("Android", Some("14.0.0")),
            ),
            (
                "  Edge 120.0.0 / Mac OS X 10.15.7  ",
                part("Edge", Some("120.0.0")),
                part("Mac OS X", Some("10.15.7")),
            ),
            (
                "Mobile Safari UI/WKWebView 0.0.0 / iOS 16.6.0",
                part("Mobile Safari UI/WKWebView", None),
                part("iOS", Some("16.6.0")),
            ),
        ] {
            let parsed = parse(agent).unwrap_or_else(|| panic!("{agent:?} not recognised"));
            assert_eq!(parsed.client, client, "{agent}");
            assert_eq!(parsed.os, os, "{agent}");
        }
        assert_eq!(
            parse("Edge 120.0.0 / Mac OS X 10.15.7").unwrap().device(),
            Some("Mac")
        );
        assert_eq!(
            parse("Mobile Safari 17.1.0 / iOS 17.1.0").unwrap().device(),
            None
        );
    }

    #[test]
    fn full_strings_and_near_misses_are_not_short_forms() {
        for agent in [
            "",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
            "curl/8.4.0",
            "okhttp/4.9.3",
            "Chrome 114 / Windows 10",
            "Chrome 114.0 / Windows 10.0",
            "Chrome 114.0.0.0 / Windows 10.0.0",
            "Chrome 114.0.0 / Windows 10.0.0 / Extra 1.0.0",
            "114.0.0",
            "1.0.0 / 2.0.0",
            "Chrome x.0.0",
            "curl/8.4.0 (x86_64-pc-linux-gnu)",
            "Python/3.11 aiohttp/3.9.1",
            "Chrome 114.0.0 /Windows 10.0.0",
            "unknown",
        ] {
            assert_eq!(parse(agent), None, "{agent:?}");
        }
        assert_eq!(parse(&format!("{} 1.0.0", "a".repeat(300))), None);
    }

    /// Auth0 short forms (as Auth0 writes them) with a full user agent of
    /// the same browser and OS: the names must be uap-core's. Returns how
    /// many short forms name a browser.
    #[test]
    fn names_are_uap_cores() {
        use crate::pipeline::enrich::ua::UserAgents;
        use crate::pipeline::enrich::uap::Regexes;
        use crate::pipeline::enrich::DEFAULT_UAP_REGEXES;

        let regexes = std::fs::read_to_string(DEFAULT_UAP_REGEXES)
            .expect("Debian's uap-core must be installed (apt-get install uap-core)");
        let agents = UserAgents::uap(Regexes::from_yaml(&regexes).unwrap());
        let members = |agent: &str| -> serde_json::Value {
            serde_json::from_str(&format!("{{{}}}", agents.members(agent))).unwrap()
        };
        let mut named = 0;
        let mut compared = 0;
        let mut differences = Vec::new();
        for (short, full) in PAIRS {
            let parsed = parse(short).unwrap_or_else(|| panic!("{short:?} not recognised"));
            assert!(parse(full).is_none(), "{full:?} taken as a short form");
            let from_short = members(short);
            let from_full = members(full);
            if from_short["name"] != "Other" {
                named += 1;
            }
            // Only the sides the short form has (`Other` counts as one).
            let sides = [
                (
                    "/name",
                    short.split(" / ").count() == 2 || parsed.client.is_some(),
                ),
                ("/os/name", parsed.os.is_some()),
            ];
            for (path, present) in sides {
                let expected = from_full.pointer(path);
                let actual = from_short.pointer(path);
                // Where uap-core cannot name it either, any name is better.
                if present && expected.is_some_and(|name| name != "Other") {
                    compared += 1;
                    if actual != expected {
                        differences.push(format!(
                            "{path} of {short:?}: {actual:?}, uap-core {expected:?}"
                        ));
                    }
                }
            }
            if from_short["os"]["name"] == "Mac OS X" && from_short["device"] != from_full["device"]
            {
                differences.push(format!(
                    "device of {short:?}: {}, uap-core {}",
                    from_short["device"], from_full["device"]
                ));
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
        println!(
            "short_ua: {named} of {} short forms name a browser; {compared} names equal uap-core's",
            PAIRS.len()
        );
        assert!(named >= 40, "{named}");
    }

    /// (short form, a full user agent of the same browser and OS).
    const PAIRS: &[(&str, &str)] = &[
        ("Chrome 114.0.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36"),
        ("Chrome 120.0.0 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
        ("Mobile Safari 17.1.0 / iOS 17.1.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
        ("Mobile Safari 16.6.0 / iOS 16.6.1", "Mozilla/5.0 (iPad; CPU OS 16_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"),
        ("Firefox 121.0.0 / Ubuntu 0.0.0", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
        ("Firefox 125.0.0 / Arch 0.0.0", "Mozilla/5.0 (X11; Arch; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
        ("Firefox 120.0.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"),
        ("Firefox 115.0.0 / Mac OS X 10.15.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:115.0) Gecko/20100101 Firefox/115.0"),
        ("Edge 120.0.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"),
        ("Edge 119.0.0 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0"),
        ("Safari 17.2.0 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"),
        ("Chrome Mobile 120.0.0 / Android 10.0.0", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"),
        ("Chrome Mobile 119.0.6045 / Android 14.0.0", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36"),
        ("Chrome Mobile iOS 120.0.6099 / iOS 17.2.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"),
        ("Samsung Internet 23.0.0 / Android 13.0.0", "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"),
        ("Firefox Mobile 121.0.0 / Android 14.0.0", "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0"),
        ("Firefox iOS 121.0.0 / iOS 17.2.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15"),
        ("Opera 105.0.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"),
        ("Chrome 120.0.0 / Linux 0.0.0", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
        ("Chrome 120.0.6099 / Chrome OS 15633.69.0", "Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.235 Safari/537.36"),
        ("IE 11.0.0 / Windows 7 0.0.0", "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"),
        ("Chrome 58.0.3029 / Windows 10 0.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36"),
        ("Chrome 49.0.2623 / Windows XP 0.0.0", "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/49.0.2623.112 Safari/537.36"),
        ("Mobile Safari UI/WKWebView 0.0.0 / iOS 16.6.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"),
        ("Facebook 444.0.0 / iOS 17.1.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/444.0.0.27.110;FBBV/546034385;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]"),
        ("Instagram 310.0.0 / Android 13.0.0", "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36 Instagram 310.0.0.37.328 Android (33/13; 420dpi; 1080x2400; Google/google; Pixel 7; panther; panther; en_US; 541635890)"),
        ("Chrome Mobile WebView 118.0.5993 / Android 13.0.0", "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36"),
        ("HeadlessChrome 120.0.6099 / Linux 0.0.0", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36"),
        ("Electron 28.1.0 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.109 Electron/28.1.0 Safari/537.36"),
        ("Yandex Browser 23.11.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36"),
        ("UC Browser 13.4.0 / Android 10.0.0", "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX1911 Build/QKQ1.200209.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36"),
        ("Vivaldi 6.5.3206 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.48"),
        ("Thunderbird 115.6.0 / Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"),
        ("Apple Mail 605.1.15 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"),
        ("curl 8.4.0 / Other 0.0.0", "curl/8.4.0"),
        ("Python Requests 2.31.0 / Other 0.0.0", "python-requests/2.31.0"),
        ("okhttp 4.9.3 / Other 0.0.0", "okhttp/4.9.3"),
        ("PostmanRuntime 7.36.0 / Other 0.0.0", "PostmanRuntime/7.36.0"),
        ("Java 8.0.322 / Other 0.0.0", "Java/1.8.0_322"),
        ("Wget 1.21.3 / Linux 0.0.0", "Wget/1.21.3 (linux-gnu)"),
        ("Go-http-client 1.1.0 / Other 0.0.0", "Go-http-client/1.1"),
        ("node-fetch 1.0.0 / Other 0.0.0", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"),
        ("axios 1.6.2 / Other 0.0.0", "axios/1.6.2"),
        ("Googlebot 2.1.0 / Other 0.0.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("Chrome 114.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36"),
        ("Other 0.0.0 / Mac OS X 10.15.7", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"),
        ("Other 0.0.0 / Other 0.0.0", "Other"),
        ("Linux 0.0.0", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("Windows 10.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
        ("iOS 17.1.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X)"),
        ("Android 14.0.0", "Mozilla/5.0 (Linux; Android 14)"),
    ];
}
