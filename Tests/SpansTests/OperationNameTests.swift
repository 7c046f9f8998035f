import Spans
import XCTest

final class OperationNameTests: XCTestCase {
    func name(_ method: String, _ target: String, collapse: Bool = false) -> String {
        OperationName.make(method: method, target: target, collapseIDs: collapse)
    }

    func test_make_originForm_queryAndFragmentCut() {
        XCTAssertEqual(name("GET", "/users/42?token=secret"), "GET /users/42")
        XCTAssertEqual(name("POST", "/a/b#frag"), "POST /a/b")
        XCTAssertEqual(name("GET", "/"), "GET /")
        XCTAssertEqual(name("GET", "/a%2Fb;x=1?q"), "GET /a%2Fb;x=1")
    }

    func test_make_emptyPath_slash() {
        XCTAssertEqual(name("GET", ""), "GET /")
        XCTAssertEqual(name("GET", "?q=1"), "GET /")
        XCTAssertEqual(name("GET", "http://example.com"), "GET /")
        XCTAssertEqual(name("GET", "http://example.com?q=1"), "GET /")
    }

    func test_make_absoluteForm_usesPath() {
        XCTAssertEqual(name("GET", "http://example.com:8080/api/v1?x=1"), "GET /api/v1")
        XCTAssertEqual(name("GET", "HTTPS://user@host/p"), "GET /p")
    }

    func test_make_otherForms_keptWhole() {
        XCTAssertEqual(name("CONNECT", "example.com:443"), "CONNECT example.com:443")
        XCTAssertEqual(name("OPTIONS", "*"), "OPTIONS *")
    }

    func test_make_collapseIDs_digitsUUIDsLongHex() {
        XCTAssertEqual(
            name("GET", "/users/42/orders/7", collapse: true), "GET /users/{id}/orders/{id}")
        XCTAssertEqual(
            name("DELETE", "/items/123e4567-E89B-12d3-a456-426614174000?x", collapse: true),
            "DELETE /items/{id}")
        XCTAssertEqual(name("GET", "/blob/4bf92f3577b34da6", collapse: true), "GET /blob/{id}")
        XCTAssertEqual(
            name("GET", "/trace/4bf92f3577b34da6a3ce929d0e0e4736/", collapse: true),
            "GET /trace/{id}/")
    }

    func test_make_collapseIDs_keepsWordsAndShortHex() {
        XCTAssertEqual(name("GET", "/api/v1/cafe/beef", collapse: true), "GET /api/v1/cafe/beef")
        XCTAssertEqual(name("GET", "/x/4bf92f3577b34da", collapse: true), "GET /x/4bf92f3577b34da")
        XCTAssertEqual(
            name("GET", "/x/123e4567-e89b-12d3-a456-42661417400g", collapse: true),
            "GET /x/123e4567-e89b-12d3-a456-42661417400g")
        XCTAssertEqual(name("GET", "//a", collapse: true), "GET //a")
    }

    func test_make_withoutCollapse_idsKept() {
        XCTAssertEqual(name("GET", "/users/42"), "GET /users/42")
    }

    func test_make_byteForm_matchesStringForm() {
        XCTAssertEqual(
            OperationName.make(
                method: Array("PUT".utf8), target: Array("/k/99?z".utf8), collapseIDs: true),
            "PUT /k/{id}")
    }
}
