import Foundation
import TandemJSON
import Testing

@Suite("JSON")
struct JSONTests {
    @Test func stringsAreEscapedAndParseBack() throws {
        let nasty = "say \"hi\"\\ back\nline2\r\t\u{01}\u{1F} é 日本 🚀 \u{2028}"
        let json = JSONValue.object([("k\"ey", .string(nasty)), ("list", .array([1, "two", 3.5, .null]))]).json
        let expected =
            #"{"k\"ey":"say \"hi\"\\ back\nline2\r\t\u0001\u001f é 日本 🚀 \u2028","list":[1,"two",3.5,null]}"#
        #expect(json == expected)
        #expect(!json.contains("\n"))
        // A JSON parser reads the same text back.
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(parsed?["k\"ey"] as? String == nasty)
        #expect(JSONValue.number(.nan).json == "null" && JSONValue.number(-.infinity).json == "null")
        #expect(JSONValue.number(3).json == "3" && JSONValue.number(1e-5).json == "1e-05")
        #expect(JSONValue.integer(-42).json == "-42")
    }

    @Test func doublesKeepTheirFraction() {
        #expect(JSONValue.double(0).json == "0.0" && JSONValue.double(3).json == "3.0")
        #expect(JSONValue.double(0.0001).json == "0.0001" && JSONValue.double(1e-5).json == "1e-05")
        #expect(JSONValue.double(.nan).json == "null" && JSONValue.double(.infinity).json == "null")
    }

    @Test func objectsWrittenKeyByKey() throws {
        var inner = JSONObject()
        inner.add("n", 3)
        var object = JSONObject()
        object.add("name", "a\"1")
        object.add("none", nil as String?)
        object.add("up", true)
        object.add("inner", raw: inner.rendered)
        object.add("start", JSONValue.double(0))
        object.add("list", raw: JSONObject.array(["1", JSONObject.quote("two")]))
        #expect(JSONObject().rendered == "{}")
        #expect(
            object.rendered
                == #"{"name":"a\"1","none":null,"up":true,"inner":{"n":3},"start":0.0,"list":[1,"two"]}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(object.rendered.utf8)) is [String: Any])
    }
}
