//! GeoIP: `source.geo.*` from a City database and `source.as.*` from an ASN
//! database, named as Elasticsearch's `geoip` processor names them.
//!
//! City gives ES's default properties: `continent_name`, `country_iso_code`,
//! `country_name`, `region_iso_code` (`<country>-<subdivision>`, from the
//! most specific subdivision), `region_name`, `city_name`, `location`. ASN
//! gives `as.number` and `as.organization.name`. English names only. An
//! address absent from a database (private, reserved, unknown) gives
//! nothing. Results are cached per address as ready-to-write JSON.
//!
//! The databases are read into memory by the caller ([`Geo::from_bytes`]);
//! memory-mapping needs `unsafe` (the file must not change underneath), which
//! this crate forbids. GeoLite2-City is ~60 MB, read once at startup.

use std::net::IpAddr;
use std::sync::Arc;

use maxminddb::Reader;
use serde::Deserialize;

use super::cache::Cache;
use crate::pipeline::json::{Value, Writer};

/// Addresses whose rendering is kept.
const CACHE_CAPACITY: usize = 8192;

/// The GeoIP databases in use (either may be absent).
#[derive(Debug)]
pub struct Geo {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
    cache: Cache<IpAddr, Rendered>,
    /// What every address renders to when no database is loaded, shared so
    /// that such lookups neither lock the cache nor allocate.
    empty: Arc<Rendered>,
}

/// One opened MaxMind database (City or ASN layout).
#[derive(Debug)]
pub struct Database(Reader<Vec<u8>>);

/// Bytes that are not a MaxMind database.
#[derive(Debug, thiserror::Error)]
#[error("not a MaxMind database")]
pub struct Error(#[source] pub maxminddb::MaxMindDbError);

/// The JSON members an address adds inside `source` (each may be empty).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `"as":{…}` or empty.
    pub autonomous_system: String,
    /// `"geo":{…}` or empty.
    pub geo: String,
}

impl Geo {
    /// No lookups.
    pub fn none() -> Geo {
        Geo {
            city: None,
            asn: None,
            cache: Cache::new(CACHE_CAPACITY),
            empty: Arc::default(),
        }
    }

    /// Lookups in a City and an ASN database (either may be absent).
    pub fn new(city: Option<Database>, asn: Option<Database>) -> Geo {
        Geo {
            city: city.map(|database| database.0),
            asn: asn.map(|database| database.0),
            cache: Cache::new(CACHE_CAPACITY),
            empty: Arc::default(),
        }
    }

    /// Lookups in the given database contents (City, ASN).
    pub fn from_bytes(city: Option<Vec<u8>>, asn: Option<Vec<u8>>) -> Result<Geo, Error> {
        let city = city.map(Database::from_bytes).transpose()?;
        let asn = asn.map(Database::from_bytes).transpose()?;
        Ok(Geo::new(city, asn))
    }

    /// Whether any database is loaded.
    pub fn is_enabled(&self) -> bool {
        self.city.is_some() || self.asn.is_some()
    }

    /// What `address` adds to `source`.
    pub fn lookup(&self, address: IpAddr) -> Arc<Rendered> {
        if !self.is_enabled() {
            return Arc::clone(&self.empty);
        }
        self.cache
            .get_or_insert(&address, |address| self.render(*address))
    }

    fn render(&self, address: IpAddr) -> Rendered {
        Rendered {
            autonomous_system: object(self.asn.as_ref(), address, "as", write_asn),
            geo: object(self.city.as_ref(), address, "geo", write_city),
        }
    }
}

/// `"name":{…}` with what `write` makes of `address`'s record in
/// `reader`; empty without a database, a record, or any member.
fn object<'r, T: Deserialize<'r>>(
    reader: Option<&'r Reader<Vec<u8>>>,
    address: IpAddr,
    name: &str,
    write: fn(&mut Writer<'_>, T),
) -> String {
    let Some(record) = reader.and_then(|reader| decode::<T>(reader, address)) else {
        return String::new();
    };
    let mut members = String::new();
    write(&mut Writer::new(&mut members), record);
    if members.is_empty() {
        return members;
    }
    format!("\"{name}\":{{{members}}}")
}

/// The members of `source.geo`.
fn write_city(writer: &mut Writer<'_>, city: City<'_>) {
    if let Some(name) = city.continent.and_then(|c| c.names).and_then(|n| n.en) {
        writer.str("continent_name", name);
    }
    let country_iso = city.country.as_ref().and_then(|c| c.iso_code);
    if let Some(iso) = country_iso {
        writer.str("country_iso_code", iso);
    }
    if let Some(name) = city
        .country
        .as_ref()
        .and_then(|c| c.names.as_ref())
        .and_then(|n| n.en)
    {
        writer.str("country_name", name);
    }
    if let Some(subdivision) = city.subdivisions.as_ref().and_then(|s| s.last()) {
        if let (Some(country), Some(iso)) = (country_iso, subdivision.iso_code) {
            writer.str("region_iso_code", &format!("{country}-{iso}"));
        }
        if let Some(name) = subdivision.names.as_ref().and_then(|n| n.en) {
            writer.str("region_name", name);
        }
    }
    if let Some(name) = city.city.and_then(|c| c.names).and_then(|n| n.en) {
        writer.str("city_name", name);
    }
    if let Some(Location {
        latitude: Some(lat),
        longitude: Some(lon),
    }) = city.location.filter(|l| {
        l.latitude.is_some_and(f64::is_finite) && l.longitude.is_some_and(f64::is_finite)
    }) {
        writer.object("location", |location| {
            location.value("lat", &Value::Number(number(lat)));
            location.value("lon", &Value::Number(number(lon)));
        });
    }
}

/// The members of `source.as`.
fn write_asn(writer: &mut Writer<'_>, asn: Asn<'_>) {
    if let Some(number) = asn.autonomous_system_number {
        writer.i64("number", i64::from(number));
    }
    if let Some(name) = asn.autonomous_system_organization.filter(|n| !n.is_empty()) {
        writer.object("organization", |organization| {
            organization.str("name", name)
        });
    }
}

/// A finite coordinate as a JSON number (callers check finiteness).
fn number(coordinate: f64) -> serde_json::Number {
    serde_json::Number::from_f64(coordinate).unwrap_or_else(|| serde_json::Number::from(0))
}

impl Database {
    /// Opens a database from its contents.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Database, Error> {
        Reader::from_source(bytes).map(Database).map_err(Error)
    }
}

/// A lookup that fails (corrupt record) counts as no data: enrichment never
/// fails an event.
fn decode<'a, T: Deserialize<'a>>(reader: &'a Reader<Vec<u8>>, address: IpAddr) -> Option<T> {
    reader.lookup(address).ok()?.decode::<T>().ok()?
}

// The record layouts of GeoIP2/GeoLite2 City and ASN (only what we read).

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow)]
    city: Option<Named<'a>>,
    #[serde(borrow)]
    continent: Option<Named<'a>>,
    #[serde(borrow)]
    country: Option<Coded<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Coded<'a>>>,
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Coded<'a> {
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct Asn<'a> {
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<&'a str>,
}

#[cfg(test)]
pub mod tests {
    //! Builds small City and ASN databases in the MaxMind layout.

    use std::collections::BTreeMap;

    use maxminddb_writer::paths::IpAddrWithMask;
    use maxminddb_writer::Database;
    use serde::Serialize;

    use super::*;

    /// Regression (review): with no database loaded every lookup still
    /// locked (and filled) the cache.
    #[test]
    fn no_database_leaves_the_cache_alone() {
        for geo in [Geo::none(), Geo::new(None, None)] {
            let rendered = geo.lookup("8.8.8.8".parse().unwrap());
            assert_eq!(*rendered, Rendered::default());
            assert!(geo.cache.is_empty());
        }
        let geo = Geo::from_bytes(Some(city_database()), None).unwrap();
        geo.lookup("8.8.8.8".parse().unwrap());
        assert!(!geo.cache.is_empty());
    }

    #[derive(Serialize)]
    struct TestNamed {
        names: BTreeMap<&'static str, &'static str>,
    }

    #[derive(Serialize)]
    struct TestCoded {
        iso_code: &'static str,
        names: BTreeMap<&'static str, &'static str>,
    }

    #[derive(Serialize)]
    struct TestLocation {
        latitude: f64,
        longitude: f64,
    }

    #[derive(Serialize)]
    struct TestCity {
        city: TestNamed,
        continent: TestNamed,
        country: TestCoded,
        subdivisions: Vec<TestCoded>,
        location: TestLocation,
    }

    #[derive(Serialize)]
    struct TestAsn {
        autonomous_system_number: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        autonomous_system_organization: Option<&'static str>,
    }

    fn en(name: &'static str) -> BTreeMap<&'static str, &'static str> {
        [("en", name), ("de", "nicht englisch")].into()
    }

    /// A database of type `kind` where 203.0.113.0/24 holds `v4` and
    /// 2001:db8::/32 holds `v6`.
    fn database<T: Serialize>(kind: &str, v4: T, v6: T) -> Vec<u8> {
        let mut database = Database::default();
        for (network, record) in [("::203.0.113.0/120", v4), ("2001:db8::/32", v6)] {
            let value = database.insert_value(record).unwrap();
            database.insert_node(network.parse::<IpAddrWithMask>().unwrap(), value);
        }
        database.metadata.database_type = kind.to_owned();
        database.metadata.ip_version = maxminddb_writer::metadata::IpVersion::V6;
        database.write_to(Vec::new()).unwrap()
    }

    /// A City database: 203.0.113.0/24 is Springfield, Illinois, US (two
    /// subdivisions, the last one most specific), 2001:db8::/32 is Paris.
    pub fn city_database() -> Vec<u8> {
        database(
            "Test-City",
            TestCity {
                city: TestNamed {
                    names: en("Springfield"),
                },
                continent: TestNamed {
                    names: en("North America"),
                },
                country: TestCoded {
                    iso_code: "US",
                    names: en("United States"),
                },
                subdivisions: vec![
                    TestCoded {
                        iso_code: "MW",
                        names: en("Midwest"),
                    },
                    TestCoded {
                        iso_code: "IL",
                        names: en("Illinois"),
                    },
                ],
                location: TestLocation {
                    latitude: 39.8,
                    longitude: -89.65,
                },
            },
            TestCity {
                city: TestNamed { names: en("Paris") },
                continent: TestNamed {
                    names: en("Europe"),
                },
                country: TestCoded {
                    iso_code: "FR",
                    names: en("France"),
                },
                subdivisions: vec![TestCoded {
                    iso_code: "IDF",
                    names: en("Île-de-France"),
                }],
                location: TestLocation {
                    latitude: 48.8566,
                    longitude: 2.3522,
                },
            },
        )
    }

    /// An ASN database: 203.0.113.0/24 is AS 64500 "Example Net".
    pub fn asn_database() -> Vec<u8> {
        database(
            "Test-ASN",
            TestAsn {
                autonomous_system_number: 64500,
                autonomous_system_organization: Some("Example Net"),
            },
            TestAsn {
                autonomous_system_number: 64501,
                autonomous_system_organization: None,
            },
        )
    }

    #[test]
    fn city_and_asn_as_elasticsearch_names_them() {
        let geo = Geo::from_bytes(Some(city_database()), Some(asn_database())).unwrap();
        let rendered = geo.lookup("203.0.113.9".parse().unwrap());
        assert_eq!(
            rendered.geo,
            r#""geo":{"continent_name":"North America","country_iso_code":"US","country_name":"United States","region_iso_code":"US-IL","region_name":"Illinois","city_name":"Springfield","location":{"lat":39.8,"lon":-89.65}}"#
        );
        assert_eq!(
            rendered.autonomous_system,
            r#""as":{"number":64500,"organization":{"name":"Example Net"}}"#
        );
        let paris = geo.lookup("2001:db8::1".parse().unwrap());
        assert!(paris
            .geo
            .contains(r#""region_iso_code":"FR-IDF","region_name":"Île-de-France""#));
        assert_eq!(paris.autonomous_system, r#""as":{"number":64501}"#);
    }

    #[test]
    fn unknown_and_private_addresses_give_nothing() {
        let geo = Geo::from_bytes(Some(city_database()), Some(asn_database())).unwrap();
        for address in ["192.168.1.50", "10.0.0.1", "198.51.100.1", "::1"] {
            assert_eq!(
                *geo.lookup(address.parse().unwrap()),
                Rendered::default(),
                "{address}"
            );
        }
        assert_eq!(
            *Geo::none().lookup("203.0.113.9".parse().unwrap()),
            Rendered::default()
        );
    }

    #[test]
    fn garbage_is_not_a_database() {
        assert!(Geo::from_bytes(Some(b"not a database".to_vec()), None).is_err());
    }
}
