// The error a config is refused with, for the config tests that check refusals.
import XCTest
@testable import RingConfig

extension XCTestCase {
    /// The ConfigError `yaml` is refused with; nil when it loads.
    func refusal(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml, file: "t.yml")
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }
}
