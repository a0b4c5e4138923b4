-- The binding's operations come from the core's generated tables (model/,
-- tools/gen_model.py), not from a list of its own: every operation of the
-- client's model is a method, every paginated one an iterator.
local smneo = require "smneo"
local json = require "dkjson"

local function model_operations()
  local f = assert(io.open("model/sagemaker.json", "rb"))
  local doc = assert(json.decode(f:read("*a")))
  f:close()
  local names = {}
  for name in pairs(doc.operations) do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function snake(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):lower())
end

describe("operations", function()
  it("are the model's, each a client method (and an iterator when paginated)", function()
    local ops = smneo.operations()
    local names = {}
    for _, op in ipairs(ops) do names[#names + 1] = op.name end
    table.sort(names)
    assert.are.same(model_operations(), names)
    local client = smneo.client{ region_name = "us-east-1", endpoint_url = "http://127.0.0.1:9", no_transport = true,
                                 aws_access_key_id = "a", aws_secret_access_key = "b" }
    local iterators = 0
    for _, op in ipairs(ops) do
      assert.are.equal(snake(op.name), op.python_name)
      assert.is_function(client[op.python_name], op.python_name)
      if op.paginated then
        iterators = iterators + 1
        assert.is_string(op.result_key)
        assert.is_function(client[op.iter_name], op.iter_name)
      else
        assert.is_nil(op.iter_name)
      end
    end
    assert.is_true(iterators >= 2)
    client:close()
  end)
end)
